-- CRM people and deliveries: users' ids in the CRM (owner routing), who administers the CRM (inbox
-- default), each integration's inbox members, and the ingress delivery log, whose rows double as the
-- replay-protection claim (a delivery is claimed by one conditional insert before anything is posted).
ALTER TABLE `users` ADD `crm_admin` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE TABLE `user_crm_ids` (
	`tenant_id` text NOT NULL,
	`system` text NOT NULL,
	`crm_key` text NOT NULL,
	`crm_id` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `system`, `crm_key`)
);
--> statement-breakpoint
CREATE INDEX `user_crm_ids_user` ON `user_crm_ids` (`tenant_id`,`user_id`);--> statement-breakpoint
ALTER TABLE `integrations` ADD `inbox_members` text;
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `state` text DEFAULT 'done' NOT NULL;
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `outcome` text;
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `conversation_id` text;
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `seq` integer;
--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `detail` text;
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_recent` ON `webhook_deliveries` (`integration_id`,`received_at`);

CREATE TABLE `messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	`client_id` text NOT NULL,
	`sender` text NOT NULL,
	`kind` text NOT NULL,
	`body` text NOT NULL,
	`text` text NOT NULL,
	`grams` text NOT NULL,
	`ts` integer NOT NULL,
	`edited_at` integer,
	`recalled` integer DEFAULT false NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_position` ON `messages` (`tenant_id`,`conversation_id`,`seq`);--> statement-breakpoint
CREATE INDEX `messages_tenant_ts` ON `messages` (`tenant_id`,`ts`);--> statement-breakpoint
ALTER TABLE `tenants` ADD `retention_days` integer;
CREATE TABLE `endpoint_deliveries` (
	`event_id` text NOT NULL,
	`endpoint_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`response_status` integer,
	`detail` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`endpoint_id`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `endpoint_deliveries_recent` ON `endpoint_deliveries` (`endpoint_id`,`updated_at`);--> statement-breakpoint
CREATE TABLE `integrations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`conversation_id` text,
	`fallback_conversation_id` text,
	`secret_ciphertext` text,
	`token_hash` text,
	`organization_id` text,
	`hubspot_versions` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `integrations_tenant` ON `integrations` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`integration_id` text NOT NULL,
	`delivery_id` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`integration_id`, `delivery_id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_age` ON `webhook_deliveries` (`received_at`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`url` text NOT NULL,
	`secret_ciphertext` text NOT NULL,
	`events` text NOT NULL,
	`conversation_ids` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_endpoints_tenant` ON `webhook_endpoints` (`tenant_id`);
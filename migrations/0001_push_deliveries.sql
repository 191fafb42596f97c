CREATE TABLE `push_deliveries` (
	`job_id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`device_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`detail` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `push_deliveries_device` ON `push_deliveries` (`tenant_id`,`user_id`,`device_id`);
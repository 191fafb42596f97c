-- Operations: the audit trail, api key ids / labels / expiry, user deactivation and token revocation.
-- Hand-written (additive only, so older code keeps running on this schema during a rollback).
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text,
	`ts` integer NOT NULL,
	`actor_kind` text NOT NULL,
	`actor_id` text,
	`action` text NOT NULL,
	`target` text,
	`details` text,
	`request_id` text,
	`country` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_tenant` ON `audit_log` (`tenant_id`,`id`);
--> statement-breakpoint
CREATE INDEX `audit_log_tenant_action` ON `audit_log` (`tenant_id`,`action`,`id`);
--> statement-breakpoint
CREATE INDEX `audit_log_actor` ON `audit_log` (`actor_kind`,`id`);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `id` text;
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `label` text;
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `expires_at` integer;
--> statement-breakpoint
UPDATE `api_keys` SET `id` = 'key_' || substr(`key_hash`, 1, 16) WHERE `id` IS NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_id` ON `api_keys` (`id`);
--> statement-breakpoint
ALTER TABLE `users` ADD `deactivated_at` integer;
--> statement-breakpoint
ALTER TABLE `users` ADD `token_generation` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`ts` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_tenant` ON `events` (`tenant_id`,`id`);
--> statement-breakpoint
CREATE INDEX `events_tenant_type` ON `events` (`tenant_id`,`type`,`id`);
--> statement-breakpoint
CREATE INDEX `events_ts` ON `events` (`ts`);
--> statement-breakpoint
ALTER TABLE `tenants` ADD `event_retention_days` integer DEFAULT 7 NOT NULL;
--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`tenant_id` text NOT NULL,
	`day` text NOT NULL,
	`metric` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`, `metric`)
);
--> statement-breakpoint
CREATE TABLE `usage_active_users` (
	`tenant_id` text NOT NULL,
	`day` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `tenant_usage_levels` (
	`tenant_id` text NOT NULL,
	`metric` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `metric`)
);
--> statement-breakpoint
CREATE TABLE `tenant_quotas` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`users` integer,
	`attachment_bytes` integer,
	`messages_per_day` integer,
	`open_sockets` integer,
	`updated_at` integer NOT NULL
);

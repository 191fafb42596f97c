ALTER TABLE `tenants` ADD `attachment_max_bytes` integer DEFAULT 26214400 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenants` ADD `attachment_types` text;
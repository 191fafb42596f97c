ALTER TABLE `conversations` ADD `message_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `memberships` ADD `read_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenants` ADD `edit_window_seconds` integer DEFAULT 86400 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenants` ADD `recall_window_seconds` integer DEFAULT 600 NOT NULL;--> statement-breakpoint
-- Until each conversation's next flush writes exact counts, approximate them from the cursors.
UPDATE `conversations` SET `message_count` = `last_seq`;
--> statement-breakpoint
UPDATE `memberships` SET `read_count` = `read_seq`;

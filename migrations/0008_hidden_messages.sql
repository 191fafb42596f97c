-- Messages a member deleted for themself ("delete for me"), copied from the conversation object when it
-- records one, so that search leaves them out for that member (and only for them). Hand-written: the
-- merge of parallel branches numbers it; drizzle's meta snapshots are regenerated at merge time.
CREATE TABLE `hidden_messages` (
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `user_id`, `conversation_id`, `seq`)
);

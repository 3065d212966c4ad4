BEGIN TRANSACTION;
CREATE TABLE deliveries (
	digest_id VARCHAR(80) NOT NULL, 
	subscriber_id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME, 
	reply TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (digest_id, subscriber_id), 
	CONSTRAINT deliveries_status_valid CHECK (status IN ('pending', 'sent', 'deferred', 'failed', 'skipped')), 
	FOREIGN KEY(digest_id) REFERENCES digests (id) ON DELETE CASCADE, 
	FOREIGN KEY(subscriber_id) REFERENCES subscribers (id) ON DELETE CASCADE
)
 WITHOUT ROWID

;
INSERT INTO "deliveries" VALUES('digest-20261120-0700',1,'sent',1,NULL,'250 2.0.0 Ok: queued as 1','2026-11-20 07:00:00.000000');
INSERT INTO "deliveries" VALUES('digest-20261120-0700',2,'deferred',1,'2026-11-20 07:01:00.000000','451 4.3.0 try later','2026-11-20 07:00:00.000000');
INSERT INTO "deliveries" VALUES('digest-20261120-0700',5,'failed',1,NULL,'550 5.1.1 <eve@example.org>: user unknown','2026-11-20 07:00:00.000000');
INSERT INTO "deliveries" VALUES('digest-20261120-0700',6,'failed',1,NULL,'gave up after 5 attempts; the last reply: 452 4.2.2 mailbox full','2026-11-20 07:00:00.000000');
INSERT INTO "deliveries" VALUES('digest-20261120-0700',7,'failed',1,NULL,'550 5.7.1 relaying denied','2026-11-20 07:00:00.000000');
INSERT INTO "deliveries" VALUES('digest-20261120-0700',8,'pending',0,NULL,'','2026-11-20 07:00:00.000000');
CREATE TABLE digest_items (
	digest_id VARCHAR(80) NOT NULL, 
	position INTEGER NOT NULL, 
	article_id VARCHAR(200) NOT NULL, 
	PRIMARY KEY (digest_id, position), 
	CONSTRAINT digest_items_article UNIQUE (digest_id, article_id), 
	FOREIGN KEY(digest_id) REFERENCES digests (id) ON DELETE CASCADE
);
INSERT INTO "digest_items" VALUES('digest-20261120-0700',0,'urn:a');
INSERT INTO "digest_items" VALUES('digest-20261120-0700',1,'urn:b');
CREATE TABLE digests (
	id VARCHAR(80) NOT NULL, 
	schedule VARCHAR(100) NOT NULL, 
	due_at DATETIME NOT NULL, 
	subject TEXT NOT NULL, 
	audience TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	completed_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT digests_schedule_due_at UNIQUE (schedule, due_at)
);
INSERT INTO "digests" VALUES('digest-20261120-0700','digest','2026-11-20 07:00:00.000000','Gazette: 20 November','','2026-11-20 07:00:00.000000',NULL);
CREATE TABLE schedule_state (
	name VARCHAR(100) NOT NULL, 
	last_due_at DATETIME, 
	outcome VARCHAR(32) NOT NULL, 
	message TEXT NOT NULL, 
	ran_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "schedule_state" VALUES('digest','2026-11-20 07:00:00.000000','ok','digest digest-20261120-0700: 1 sent','2026-11-20 07:00:00.000000');
CREATE TABLE store_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "store_meta" VALUES('schema_version','1');
CREATE TABLE subscribers (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	email VARCHAR(320) NOT NULL, 
	email_key VARCHAR(320) NOT NULL, 
	name TEXT NOT NULL, 
	tags TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	status_reason TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT subscribers_status_valid CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')), 
	UNIQUE (email_key)
);
INSERT INTO "subscribers" VALUES(1,'ann@example.org','ann@example.org','Ann Lee','ferry,council','active',NULL,'2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(2,'bob@example.org','bob@example.org','','','active',NULL,'2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(3,'cleo@example.org','cleo@example.org','Cléo','','pending',NULL,'2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(4,'dan@example.org','dan@example.org','Dan','','unsubscribed',NULL,'2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(5,'eve@example.org','eve@example.org','','','bounced','550 5.1.1 <eve@example.org>: user unknown','2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(6,'fay@example.org','fay@example.org','','','bounced','gave up after 5 attempts; the last reply: 452 4.2.2 mailbox full','2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(7,'gus@example.org','gus@example.org','','','bounced','550 5.7.1 relaying denied','2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
INSERT INTO "subscribers" VALUES(8,'hal@example.org','hal@example.org','','','active',NULL,'2026-11-20 07:00:00.000000','2026-11-20 07:00:00.000000');
CREATE INDEX subscribers_status_id ON subscribers (status, id);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('subscribers',8);
COMMIT;

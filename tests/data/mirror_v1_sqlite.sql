-- The mirror's tables at schema version 1 (sqlite), frozen: the migration test starts from them.

CREATE TABLE bjy_mirror_callbacks (
	qid VARCHAR(64) NOT NULL, 
	received_at FLOAT NOT NULL, 
	payload JSON NOT NULL, 
	PRIMARY KEY (qid)
);

CREATE TABLE bjy_mirror_changes (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	run_id INTEGER, 
	source VARCHAR(16) NOT NULL, 
	room_id BIGINT NOT NULL, 
	session_id BIGINT NOT NULL, 
	version INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	field VARCHAR(64), 
	old TEXT, 
	new TEXT, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_bjy_mirror_changes_key ON bjy_mirror_changes (room_id, session_id, version);

CREATE TABLE bjy_mirror_locks (
	name VARCHAR(64) NOT NULL, 
	pid INTEGER NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	acquired_at FLOAT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE bjy_mirror_meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	PRIMARY KEY ("key")
);

CREATE TABLE bjy_mirror_playbacks (
	room_id BIGINT NOT NULL, 
	session_id BIGINT NOT NULL, 
	version INTEGER NOT NULL, 
	partner_id BIGINT NOT NULL, 
	playback_id BIGINT, 
	video_id BIGINT, 
	name TEXT, 
	status INTEGER, 
	create_time VARCHAR(19), 
	length BIGINT, 
	total_size BIGINT, 
	total_transcode_size BIGINT, 
	play_times BIGINT, 
	play_url TEXT, 
	preface_url TEXT, 
	publish_status INTEGER, 
	is_main INTEGER, 
	extra JSON, 
	first_seen FLOAT NOT NULL, 
	last_seen FLOAT NOT NULL, 
	seen_run INTEGER, 
	deleted_at FLOAT, 
	PRIMARY KEY (room_id, session_id, version)
);

CREATE INDEX ix_bjy_mirror_playbacks_status ON bjy_mirror_playbacks (status);

CREATE INDEX ix_bjy_mirror_playbacks_time ON bjy_mirror_playbacks (create_time);

CREATE TABLE bjy_mirror_sync_runs (
	id INTEGER NOT NULL, 
	partner_id BIGINT NOT NULL, 
	mode VARCHAR(16) NOT NULL, 
	started_at FLOAT NOT NULL, 
	ended_at FLOAT, 
	calls INTEGER NOT NULL, 
	seen INTEGER NOT NULL, 
	inserted INTEGER NOT NULL, 
	updated INTEGER NOT NULL, 
	deleted INTEGER NOT NULL, 
	error TEXT, 
	PRIMARY KEY (id)
);

-- A ticketing schema from before Open311, as its back office made it (SQLite: no
-- sequences, so ticket ids are the rowid). mappings/examples/legacy-tickets.yaml
-- describes it.
CREATE TABLE tkt_category (
    cat_cd      SMALLINT PRIMARY KEY,
    cat_abbr    VARCHAR(12) NOT NULL UNIQUE,
    cat_name    VARCHAR(60) NOT NULL,
    dept_nm     VARCHAR(60),
    active_flg  CHAR(1) NOT NULL DEFAULT 'Y'
);

CREATE TABLE tkt_main (
    tkt_id      INTEGER PRIMARY KEY,
    cat_cd      SMALLINT NOT NULL REFERENCES tkt_category (cat_cd),
    stat_cd     SMALLINT NOT NULL,
    prio_cd     SMALLINT NOT NULL DEFAULT 3,
    descr       VARCHAR(4000),
    y_coord     NUMERIC(9, 6),
    x_coord     NUMERIC(9, 6),
    addr        VARCHAR(200),
    attr_json   TEXT,
    media_url   VARCHAR(500),
    src_cd      CHAR(4) NOT NULL DEFAULT 'PHON',
    opened_dt   DATETIME NOT NULL,
    upd_dt      DATETIME,
    due_dt      DATETIME,
    close_note  VARCHAR(2000),
    ext_ref     VARCHAR(255) UNIQUE,
    assigned_to VARCHAR(30)
);
CREATE INDEX tkt_main_opened ON tkt_main (opened_dt);

CREATE TABLE tkt_contact (
    contact_id  INTEGER PRIMARY KEY,
    tkt_id      INTEGER NOT NULL REFERENCES tkt_main (tkt_id),
    first_nm    VARCHAR(40),
    last_nm     VARCHAR(40),
    email_addr  VARCHAR(120) CONSTRAINT tkt_contact_email CHECK (email_addr LIKE '%_@_%'),
    phone       VARCHAR(20)
);

CREATE TABLE tkt_history (
    hist_id     INTEGER PRIMARY KEY,
    tkt_id      INTEGER NOT NULL REFERENCES tkt_main (tkt_id),
    stat_cd     SMALLINT,
    note_txt    VARCHAR(2000),
    changed_dt  DATETIME NOT NULL,
    changed_by  VARCHAR(30) NOT NULL
);
CREATE INDEX tkt_history_changed ON tkt_history (changed_dt);

INSERT INTO tkt_category (cat_cd, cat_abbr, cat_name, dept_nm) VALUES
    (110, 'RD-POT', 'Pothole', 'Highways'),
    (120, 'RD-LAMP', 'Street lighting', 'Highways'),
    (210, 'CL-GRAF', 'Graffiti removal', 'Cleansing'),
    (220, 'CL-TIP', 'Fly-tipping', 'Cleansing'),
    (990, 'XX-OLD', 'Retired category', NULL);

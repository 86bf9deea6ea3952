-- A ticketing schema from before Open311, as its back office made it (MariaDB 10.5+).
-- The gateway did not design it: mappings/examples/legacy-tickets.yaml describes it.
CREATE SEQUENCE tkt_main_seq START WITH 50001;

CREATE TABLE tkt_category (
    cat_cd      SMALLINT PRIMARY KEY,
    cat_abbr    VARCHAR(12) NOT NULL UNIQUE,
    cat_name    VARCHAR(60) NOT NULL,
    dept_nm     VARCHAR(60),
    active_flg  CHAR(1) NOT NULL DEFAULT 'Y'
) ENGINE=InnoDB;

CREATE TABLE tkt_main (
    tkt_id      INT NOT NULL DEFAULT (NEXT VALUE FOR tkt_main_seq) PRIMARY KEY,
    cat_cd      SMALLINT NOT NULL,
    stat_cd     SMALLINT NOT NULL,
    prio_cd     SMALLINT NOT NULL DEFAULT 3,
    descr       VARCHAR(4000),
    y_coord     DECIMAL(9, 6),
    x_coord     DECIMAL(9, 6),
    addr        VARCHAR(200),
    attr_json   TEXT,
    media_url   VARCHAR(500),
    src_cd      CHAR(4) NOT NULL DEFAULT 'PHON',
    opened_dt   DATETIME NOT NULL,
    upd_dt      DATETIME,
    due_dt      DATETIME,
    close_note  VARCHAR(2000),
    ext_ref     VARCHAR(255) UNIQUE,
    assigned_to VARCHAR(30),
    KEY tkt_main_opened (opened_dt),
    CONSTRAINT tkt_main_cat FOREIGN KEY (cat_cd) REFERENCES tkt_category (cat_cd)
) ENGINE=InnoDB;

CREATE TABLE tkt_contact (
    contact_id  INT AUTO_INCREMENT PRIMARY KEY,
    tkt_id      INT NOT NULL,
    first_nm    VARCHAR(40),
    last_nm     VARCHAR(40),
    email_addr  VARCHAR(120),
    phone       VARCHAR(20),
    CONSTRAINT tkt_contact_email CHECK (email_addr LIKE '%_@_%'),
    CONSTRAINT tkt_contact_tkt FOREIGN KEY (tkt_id) REFERENCES tkt_main (tkt_id)
) ENGINE=InnoDB;

CREATE TABLE tkt_history (
    hist_id     INT AUTO_INCREMENT PRIMARY KEY,
    tkt_id      INT NOT NULL,
    stat_cd     SMALLINT,
    note_txt    VARCHAR(2000),
    changed_dt  DATETIME NOT NULL,
    changed_by  VARCHAR(30) NOT NULL,
    KEY tkt_history_changed (changed_dt),
    CONSTRAINT tkt_history_tkt FOREIGN KEY (tkt_id) REFERENCES tkt_main (tkt_id)
) ENGINE=InnoDB;

INSERT INTO tkt_category (cat_cd, cat_abbr, cat_name, dept_nm) VALUES
    (110, 'RD-POT', 'Pothole', 'Highways'),
    (120, 'RD-LAMP', 'Street lighting', 'Highways'),
    (210, 'CL-GRAF', 'Graffiti removal', 'Cleansing'),
    (220, 'CL-TIP', 'Fly-tipping', 'Cleansing'),
    (990, 'XX-OLD', 'Retired category', NULL);

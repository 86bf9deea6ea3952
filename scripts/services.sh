#!/usr/bin/env bash
# Makes sure the services the integration tests use are running on this machine:
# starts PostgreSQL from its Debian cluster when it is installed but down. Does nothing
# for a service that is already up; says so for one it cannot start (tests then skip,
# or fail under OPEN311_REQUIRE_SERVICES=1).
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 5432; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    else
        echo "services: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here" >&2
    fi
fi

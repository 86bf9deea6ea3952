#!/usr/bin/env bash
# Makes sure the services the integration tests use are running on this machine:
# starts PostgreSQL from its Debian cluster, MariaDB and RabbitMQ when they are
# installed but down. Does nothing for a service that is already up; says how to get one that is
# not installed (tests then skip, or fail under OPEN311_REQUIRE_SERVICES=1).
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits for a port, at most $2 seconds.
wait_for() {
    local port=$1 seconds=$2
    for _ in $(seq "$seconds"); do
        up "$port" && return 0
        sleep 1
    done
    return 1
}

if ! up 5432; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    else
        echo "services: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here" >&2
    fi
fi

if ! up 3306; then
    if [ -x /usr/sbin/mariadbd ]; then
        [ -d /run/mysqld ] || install -d -o mysql -g mysql /run/mysqld
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
        wait_for 3306 60 ||
            echo "services: MariaDB started but 127.0.0.1:3306 did not open within 60 s" >&2
    else
        echo "services: MariaDB is not running on 127.0.0.1:3306 and is not installed here;" \
            "apt-get install mariadb-server (10.5 or newer), with root allowed in without a password" >&2
    fi
fi

if ! up 5672; then
    if command -v rabbitmq-server >/dev/null; then
        rabbitmq-server -detached
        wait_for 5672 90 ||
            echo "services: RabbitMQ started but 127.0.0.1:5672 did not open within 90 s" >&2
    else
        echo "services: RabbitMQ is not running on 127.0.0.1:5672 and is not installed here;" \
            "apt-get install rabbitmq-server (3.10 or newer), or docker run -d -p 5672:5672 rabbitmq:4" >&2
    fi
fi

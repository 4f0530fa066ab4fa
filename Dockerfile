# mod_dockpay in a container: Debian 12's Apache httpd with the module, run as a non-root user.
#   docker build --network host -t mod_dockpay .      (or: docker-compose build; see README.md)
# Stage 1 builds the module from this tree; stage 2 is Debian's apache2 plus the module, conf/,
# the tools and the schema. The entrypoint (docker/entrypoint.sh) gives the user the group of
# the mounted Docker socket, migrates the database and starts httpd in the foreground.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends apache2-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev \
        libssl-dev autoconf automake libtool pkg-config make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
 && mkdir -p /src/_build && cd /src/_build \
 && ../configure --prefix=/usr --enable-werror \
 && make -j"$(nproc)" \
 && make install DESTDIR=/out \
 && install -m 0644 ../conf/dockpay.load ../conf/dockpay.conf /out/ \
 && install -m 0644 ../db/migrations/*.sql /out/usr/share/mod_dockpay/db/migrations/

FROM ${DEBIAN_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# docker-compose: what POST /compose runs (DockpayComposeCommand); mariadb-client: dockpay-migrate
RUN apt-get update \
 && apt-get install -y --no-install-recommends apache2 libaprutil1-dbd-mysql libcurl4 libjson-c5 libyaml-0-2 \
        ca-certificates mariadb-client docker-compose curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/ /usr/
COPY --from=build /out/dockpay.load /etc/apache2/mods-available/dockpay.load
COPY --from=build /out/dockpay.conf /etc/apache2/conf-available/dockpay.conf
COPY docker/dockpay-container.conf /etc/apache2/conf-available/zz-dockpay-container.conf
COPY docker/entrypoint.sh /usr/local/sbin/dockpay-entrypoint
# A non-root user; the entrypoint adds it to the group that owns the mounted Docker socket.
# httpd runs as this user from the start (no root parent), so it listens on 8080.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dockpay --shell /usr/sbin/nologin dockpay \
 && mkdir -p /var/lib/dockpay/compose \
 && mkdir -p /etc/apache2-dockpay && ln -s /var/lib/dockpay/dockpay.keys /etc/apache2-dockpay/dockpay.keys \
 && echo 'Listen ${DOCKPAY_LISTEN}' > /etc/apache2/ports.conf \
 && a2dissite -q 000-default && a2disconf -q other-vhosts-access-log \
 && a2enmod -q dbd dockpay && a2enconf -q dockpay zz-dockpay-container \
 && mkdir -p /var/run/apache2 /var/lock/apache2 \
 && chown -R dockpay:dockpay /var/lib/dockpay /var/log/apache2 /var/run/apache2 /var/lock/apache2 \
 && chmod 0755 /usr/local/sbin/dockpay-entrypoint
ENV DOCKPAY_LISTEN=8080 \
    DOCKPAY_DB_HOST=db DOCKPAY_DB_PORT=3306 DOCKPAY_DB_NAME=dockpay DOCKPAY_DB_USER=dockpay \
    PORTONE_API_URL=https://api.iamport.kr
VOLUME /var/lib/dockpay
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${DOCKPAY_LISTEN}/api/v1/health" || exit 1
ENTRYPOINT ["/usr/local/sbin/dockpay-entrypoint"]
CMD ["apache2", "-DFOREGROUND"]

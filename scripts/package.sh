#!/usr/bin/env bash
# Packs what `scripts/build.sh --release` built into target/dist/memberpulse/ — the
# binary with DuckDB's library beside it (it looks there first), the site, the column
# mappings and a systemd unit — and target/dist/memberpulse-linux-x64.tar.gz, to copy to a
# server. See docs/operations.md ("Deploy").
set -euo pipefail
cd "$(dirname "$0")/.."
dist=target/dist/memberpulse
rm -rf "$dist" target/dist/memberpulse-linux-x64.tar.gz
mkdir -p "$dist"
cp target/release/memberpulse "$dist/"
cp node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so "$dist/"
cp -R target/site "$dist/site"
cp -R mappings "$dist/mappings"
cat >"$dist/memberpulse.service" <<'UNIT'
# /etc/systemd/system/memberpulse.service — MemberPulse, unpacked in /opt/memberpulse,
# its data in /var/lib/memberpulse, run as the user memberpulse.
[Unit]
Description=MemberPulse member-health server
After=network.target

[Service]
User=memberpulse
WorkingDirectory=/opt/memberpulse
ExecStart=/opt/memberpulse/memberpulse serve --addr 127.0.0.1:3000 --site-root /opt/memberpulse/site --data-dir /var/lib/memberpulse
Environment=MEMBERPULSE_TIME_ZONE=Asia/Shanghai
# Behind a reverse proxy on this machine (TLS there):
# Environment=MEMBERPULSE_PUBLIC_URL=https://members.example.cn MEMBERPULSE_TRUSTED_PROXY=127.0.0.1
Restart=on-failure
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=/var/lib/memberpulse
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
tar -C target/dist -czf target/dist/memberpulse-linux-x64.tar.gz memberpulse
du -sh "$dist" target/dist/memberpulse-linux-x64.tar.gz

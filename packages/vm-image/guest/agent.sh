#!/bin/sh
# The guest agent: reads the host's config, mounts shares, supervises berthd, serves ssh.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
# V8's code cache on the data disk makes every boot after the first start faster.
[ -d /var/lib/berth ] && mkdir -p /var/lib/berth/.node-cache && export NODE_COMPILE_CACHE=/var/lib/berth/.node-cache
exec /usr/bin/node /usr/lib/berth/agent/agent.mjs >>/run/berth/agent.log 2>&1

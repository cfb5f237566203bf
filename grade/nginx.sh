#!/bin/sh
# nginx, as `grade --cmd` runs a server: `sh grade/nginx.sh {port} {root} {timeout}`.
# nginx takes its settings from a file, so this writes one beside the document root (the
# system's configuration is never touched) and runs nginx in the foreground with it: one
# process, the grader's port and root, the media types of the grader's files, and the idle
# timeout the timeout check asks for.
set -eu
port=$1
root=$2
timeout=$3
dir=$(dirname "$root")
cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {}
http {
    access_log off;
    sendfile on;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    default_type application/octet-stream;
    types {
        text/html html;
        text/css css;
        text/javascript js;
        image/png png;
        application/json json;
        text/plain txt;
    }
    client_header_timeout ${timeout}s;
    client_body_timeout ${timeout}s;
    keepalive_timeout ${timeout}s;
    server {
        listen 127.0.0.1:$port;
        root $root;
    }
}
CONF
exec nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"

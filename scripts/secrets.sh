#!/usr/bin/env bash
# Shared secrets of this installation, created once in var/secrets.env (mode 600, never in the
# repository). Source it: `. scripts/secrets.sh` exports each one that the environment does not
# already set, so a deployment passes its own values and a fresh clone still runs.
#   ACTION_SERVER_TOKEN  the Rasa server's key to the action server (X-Action-Token)
#   CHANNEL_SECRET       signs the chat page's session ids and the payloads of buttons
#   REST_CHANNEL_TOKEN   bearer token of the REST channel for the bank's own systems
#   DESK_BRIDGE_TOKEN    the staff desk's key to the Rasa server's desk API (/webhooks/desk/)
#   DESK_SECRET_KEY      signs the staff console's session cookies and CSRF tokens
#   CALLBACK_NUMBER_KEY  seals complainants' call-back numbers (a Fernet key: the Rasa server seals,
#                        the staff console opens; banktext/sealing.py)
_secrets_file="${SECRETS_FILE:-var/secrets.env}"
mkdir -p "$(dirname "$_secrets_file")"
( umask 077; touch "$_secrets_file" )
for _name in ACTION_SERVER_TOKEN CHANNEL_SECRET REST_CHANNEL_TOKEN DESK_BRIDGE_TOKEN DESK_SECRET_KEY; do
  if ! grep -q "^$_name=" "$_secrets_file"; then
    echo "$_name=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>"$_secrets_file"
  fi
done
if ! grep -q "^CALLBACK_NUMBER_KEY=" "$_secrets_file"; then
  echo "CALLBACK_NUMBER_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" >>"$_secrets_file"
fi
while IFS='=' read -r _name _value; do
  [ -n "$_name" ] && [ -z "${!_name:-}" ] && export "$_name=$_value"
done <"$_secrets_file"
unset _name _value _secrets_file

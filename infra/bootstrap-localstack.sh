#!/usr/bin/env bash
# Create (idempotently) the AWS resources of the project on LocalStack, the
# same ones `crm_aws::provision::ensure_resources` and infra/template.yaml
# create: the table (pk/sk, on-demand, stream NEW_IMAGE, TTL on expires_at),
# the robot-actions and events queues with DLQs and redrive policies, the
# schedules' DLQ, the schedule group and the scheduler's role.
#
#   infra/bootstrap-localstack.sh          start LocalStack if needed, provision,
#                                          print `export …` lines on stdout
#   eval "$(infra/bootstrap-localstack.sh)"   … and use them in this shell
#
# Names follow the same variables as the code: CRM_TABLE (crm-docs),
# CRM_SCHEDULE_GROUP (crm-robots), AWS_REGION (us-east-1), LS_PORT (4566).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${LS_DIR:-$ROOT/target/localstack}
PORT=${LS_PORT:-4566}
ENDPOINT=${AWS_ENDPOINT_URL:-http://127.0.0.1:$PORT}
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
ACCOUNT=000000000000
TABLE=${CRM_TABLE:-crm-docs}
GROUP=${CRM_SCHEDULE_GROUP:-crm-robots}
ROBOT_Q=crm-robot-actions
EVENT_Q=crm-events
SCHEDULE_DLQ=crm-schedule-dlq
ROLE=crm-scheduler
VISIBILITY=180 # 6 x the consuming functions' 30 s timeout
MAX_RECEIVES=5
DLQ_RETENTION=1209600

log() { printf 'bootstrap: %s\n' "$*" >&2; }

"$HERE/localstack.sh" start >&2

if [ -x "$S/venv/bin/aws" ]; then
  AWS_BIN="$S/venv/bin/aws"
elif command -v aws >/dev/null 2>&1; then
  AWS_BIN=$(command -v aws)
else
  "$HERE/localstack.sh" install >&2
  AWS_BIN="$S/venv/bin/aws"
fi
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=$REGION AWS_PAGER=""
aws() { "$AWS_BIN" --endpoint-url "$ENDPOINT" --region "$REGION" --output text "$@"; }

# --- table ---------------------------------------------------------------
if aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
  log "table $TABLE exists"
else
  log "creating table $TABLE"
  aws dynamodb create-table --table-name "$TABLE" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE >/dev/null 2>&1 ||
    aws dynamodb describe-table --table-name "$TABLE" >/dev/null # created concurrently?
fi
aws dynamodb wait table-exists --table-name "$TABLE"
if [ "$(aws dynamodb describe-table --table-name "$TABLE" --query 'Table.StreamSpecification.StreamViewType')" != NEW_IMAGE ]; then
  log "enabling the stream of $TABLE"
  aws dynamodb update-table --table-name "$TABLE" \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE >/dev/null
fi
case "$(aws dynamodb describe-time-to-live --table-name "$TABLE" --query 'TimeToLiveDescription.TimeToLiveStatus')" in
ENABLED | ENABLING) ;;
*)
  log "enabling TTL on expires_at"
  aws dynamodb update-time-to-live --table-name "$TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
  ;;
esac
STREAM_ARN=$(aws dynamodb describe-table --table-name "$TABLE" --query 'Table.LatestStreamArn')

# --- API keys table (SHA-256 hashes of the keys; see crm_aws::api_keys) ----
KEYS_TABLE=${CRM_KEYS_TABLE:-crm-api-keys}
if ! aws dynamodb describe-table --table-name "$KEYS_TABLE" >/dev/null 2>&1; then
  log "creating table $KEYS_TABLE"
  aws dynamodb create-table --table-name "$KEYS_TABLE" \
    --attribute-definitions AttributeName=key_hash,AttributeType=S \
    --key-schema AttributeName=key_hash,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST >/dev/null 2>&1 ||
    aws dynamodb describe-table --table-name "$KEYS_TABLE" >/dev/null # created concurrently?
fi
aws dynamodb wait table-exists --table-name "$KEYS_TABLE"

# --- queues --------------------------------------------------------------
queue() { # name → url (creates it if missing)
  aws sqs get-queue-url --queue-name "$1" --query QueueUrl 2>/dev/null ||
    aws sqs create-queue --queue-name "$1" --query QueueUrl
}
queue_arn() { aws sqs get-queue-attributes --queue-url "$1" --attribute-names QueueArn --query Attributes.QueueArn; }

for q in "$ROBOT_Q" "$EVENT_Q"; do
  dlq_url=$(queue "$q-dlq")
  aws sqs set-queue-attributes --queue-url "$dlq_url" --attributes MessageRetentionPeriod=$DLQ_RETENTION
  dlq_arn=$(queue_arn "$dlq_url")
  url=$(queue "$q")
  attrs=$(printf '{"VisibilityTimeout":"%s","RedrivePolicy":"{\\"deadLetterTargetArn\\":\\"%s\\",\\"maxReceiveCount\\":\\"%s\\"}"}' \
    "$VISIBILITY" "$dlq_arn" "$MAX_RECEIVES")
  aws sqs set-queue-attributes --queue-url "$url" --attributes "$attrs"
  log "queue $q (+ $q-dlq) ready"
done
sdlq_url=$(queue "$SCHEDULE_DLQ")
aws sqs set-queue-attributes --queue-url "$sdlq_url" --attributes MessageRetentionPeriod=$DLQ_RETENTION
log "queue $SCHEDULE_DLQ ready"

# --- scheduler -----------------------------------------------------------
if aws scheduler get-schedule-group --name "$GROUP" >/dev/null 2>&1; then
  log "schedule group $GROUP exists"
else
  aws scheduler create-schedule-group --name "$GROUP" >/dev/null
  log "created schedule group $GROUP"
fi
if ! aws iam get-role --role-name "$ROLE" >/dev/null 2>&1; then
  aws iam create-role --role-name "$ROLE" --assume-role-policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}]}' >/dev/null
  log "created role $ROLE"
fi

log "done (stream: $STREAM_ARN)"
cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_REGION=$REGION
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export CRM_TABLE=$TABLE
export CRM_KEYS_TABLE=$KEYS_TABLE
export CRM_ROBOT_QUEUE_URL=$ENDPOINT/$ACCOUNT/$ROBOT_Q
export CRM_EVENT_QUEUE_URL=$ENDPOINT/$ACCOUNT/$EVENT_Q
export CRM_SCHEDULE_GROUP=$GROUP
export CRM_SCHEDULER_ROLE_ARN=arn:aws:iam::$ACCOUNT:role/$ROLE
export CRM_ROBOT_QUEUE_ARN=arn:aws:sqs:$REGION:$ACCOUNT:$ROBOT_Q
export CRM_SCHEDULE_DLQ_ARN=arn:aws:sqs:$REGION:$ACCOUNT:$SCHEDULE_DLQ
EOF

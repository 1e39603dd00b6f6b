# Sourced by scripts/interop/run.sh: a look at the bucket from outside
# s3seal, with curl's own SigV4 signing, so that what the checks see is what
# the server answers, not what s3seal's client makes of it. Uses $endpoint,
# $access_key and $secret_key; paths are "bucket[/key][?query]", with the
# query's values percent-encoded.

# The SHA-256 of an empty body: every request here sends none.
readonly EMPTY_SHA256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

s3_curl() {
	local path="$1"
	shift
	curl -s --noproxy '*' --max-time 60 --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$access_key:$secret_key" -H "x-amz-content-sha256: $EMPTY_SHA256" \
		"$@" "$endpoint/$path"
}

# s3_status prints the HTTP status of a signed GET of path.
s3_status() {
	s3_curl "$1" -o /dev/null -w '%{http_code}' 2>/dev/null || true
}

# s3_get writes the object at path to standard output, failing on any
# answer but 200.
s3_get() {
	s3_curl "$1" -f
}

# xml_records splits an XML answer into one line per <tag> element.
xml_records() {
	sed "s/<$1>/\n<$1>/g" | grep "^<$1>"
}

# xml_field prints the text of the first <tag> in each line of input.
xml_field() {
	sed -n "s/.*<$1>\([^<]*\)<\/$1>.*/\1/p"
}

# list_objects prints "key size" for each object under prefix in bucket;
# keys with spaces are not expected. One page is enough for these runs;
# a truncated listing fails.
list_objects() {
	local in_bucket="$1" prefix="$2" answer
	answer="$(s3_curl "$in_bucket?list-type=2&prefix=$(urlencode "$prefix")" -f)" || return 1
	if [[ "$answer" == *"<IsTruncated>true</IsTruncated>"* ]]; then
		echo "interop: listing of $in_bucket/$prefix is truncated" >&2
		return 1
	fi
	xml_records Contents <<<"$answer" | while read -r record; do
		printf '%s %s\n' "$(xml_field Key <<<"$record")" "$(xml_field Size <<<"$record")"
	done
}

# list_uploads prints "key upload-id" for each multipart upload under
# prefix in bucket. The listing is of the whole bucket, filtered here: MinIO
# takes a ListMultipartUploads prefix for an exact key (see
# server_uploads, which asks as s3seal does).
list_uploads() {
	local in_bucket="$1" prefix="$2" answer
	answer="$(s3_curl "$in_bucket?uploads=" -f)" || return 1
	xml_records Upload <<<"$answer" | while read -r record; do
		printf '%s %s\n' "$(xml_field Key <<<"$record")" "$(xml_field UploadId <<<"$record")"
	done | awk -v p="$prefix" 'index($1, p) == 1'
}

# server_uploads is list_uploads with the prefix left to the server.
server_uploads() {
	local in_bucket="$1" prefix="$2" answer
	answer="$(s3_curl "$in_bucket?prefix=$(urlencode "$prefix")&uploads=" -f)" || return 1
	xml_records Upload <<<"$answer" | while read -r record; do
		printf '%s %s\n' "$(xml_field Key <<<"$record")" "$(xml_field UploadId <<<"$record")"
	done
}

# create_upload starts a multipart upload of key in bucket and prints its ID.
create_upload() {
	s3_curl "$1/$2?uploads=" -f -X POST | xml_field UploadId
}

abort_upload() {
	s3_curl "$1/$2?uploadId=$(urlencode "$3")" -f -X DELETE -o /dev/null
}

# parts_size prints the number of parts of an upload and their total size.
parts_size() {
	local in_bucket="$1" key="$2" id="$3" answer
	answer="$(s3_curl "$in_bucket/$key?uploadId=$(urlencode "$id")" -f)" || return 1
	xml_records Part <<<"$answer" | xml_field Size | awk '{n++; s += $1} END {printf "%d %d\n", n, s}'
}

urlencode() {
	local s="$1" out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c="${s:i:1}"
		case "$c" in
		[a-zA-Z0-9.~_-]) out+="$c" ;;
		*) out+="$(printf '%%%02X' "'$c")" ;;
		esac
	done
	printf '%s' "$out"
}

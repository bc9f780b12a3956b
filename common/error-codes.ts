// Every error code the HTTP API sends: its status and what it means. The one table:
// AppError accepts only these codes with their status (a type error otherwise), the tests'
// expectError checks the status against it, and a test holds docs/api.md's table to it.

export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    meaning: "a field is missing or invalid; `details.issues[]` names each field",
  },
  malformed_json: { status: 400, meaning: "the body is not valid JSON" },
  unreadable_body: {
    status: 400,
    meaning: "the body could not be read (e.g. a corrupt gzip stream)",
  },
  request_aborted: { status: 400, meaning: "the client closed the request before its body ended" },
  bad_length: { status: 400, meaning: "the body's length differs from its `Content-Length`" },
  bad_request: {
    status: 400,
    meaning: "not HTTP: the request line or headers could not be parsed (the connection is closed)",
  },
  invalid_csv: {
    status: 400,
    meaning:
      "a roster CSV that is not UTF-8, has no `id,name,groups` header row, or cannot be parsed",
  },
  unauthorized: { status: 401, meaning: "no valid bearer token" },
  deployment_admin_required: {
    status: 403,
    meaning:
      "a deployment-wide operation (schools, their admins, dead letters) with a school admin's token",
  },
  kiosk_revoked: {
    status: 403,
    meaning: "the kiosk was revoked: its token is refused, and it cannot be paired",
  },
  poll_not_allowed: {
    status: 403,
    meaning: "the kiosk is limited to other polls (its `pollIds`; `details: {field, pollId}`)",
  },
  attendance_not_allowed: {
    status: 403,
    meaning:
      "the kiosk may not take attendance: its `pollIds` name no attendance register of its school",
  },
  teacher_not_allowed: {
    status: 403,
    meaning:
      "a teacher's token on a route other than its school's lesson registers (their events, completion, documents and stats), or for a poll that is no lesson register",
  },
  csrf_failed: {
    status: 403,
    meaning:
      "a state-changing request signed in by a console session without its `X-CSRF-Token` header (read it from `GET /v1/console/session`)",
  },
  results_hidden: { status: 403, meaning: "an `after_close` poll's results before it closes" },
  poll_not_found: { status: 404, meaning: "no poll has this id" },
  kiosk_not_found: { status: 404, meaning: "no kiosk has this id" },
  school_not_found: {
    status: 404,
    meaning: "no school has this id (or it is another school than the admin's own)",
  },
  school_admin_not_found: { status: 404, meaning: "this school has no admin with this id" },
  teacher_not_found: { status: 404, meaning: "this school has no teacher with this id" },
  person_not_found: { status: 404, meaning: "this school's roster has no person with this id" },
  holiday_not_found: { status: 404, meaning: "this school has no holiday on this date" },
  pairing_code_invalid: {
    status: 404,
    meaning: "no unused, unexpired pairing code is this one (unknown, used and expired alike)",
  },
  sign_in_link_invalid: {
    status: 404,
    meaning:
      "no unused, unexpired teacher sign-in link is this one (unknown, used, expired and revoked alike)",
  },
  invite_invalid: {
    status: 404,
    meaning: "no unused, unexpired console invite is this one (unknown, used and expired alike)",
  },
  session_not_found: {
    status: 404,
    meaning: "no console session has this id (or it is another school's)",
  },
  dead_letter_not_found: { status: 404, meaning: "no dead letter has this id" },
  route_not_found: { status: 404, meaning: "no route for this method and path" },
  request_timeout: {
    status: 408,
    meaning:
      "headers or body not received within `HTTP_HEADERS_TIMEOUT_MS` / `HTTP_REQUEST_TIMEOUT_MS` (closed)",
  },
  poll_exists: { status: 409, meaning: "a poll with this id already exists" },
  poll_purge_pending: {
    status: 409,
    meaning:
      "a poll with this id was deleted and its votes are still being removed in the background",
  },
  kiosk_exists: { status: 409, meaning: "a kiosk with this id already exists" },
  school_exists: { status: 409, meaning: "a school with this id already exists" },
  school_has_votes: {
    status: 409,
    meaning: "the school has polls with votes that are not archived (`details: {pollIds}`)",
  },
  school_is_default: {
    status: 409,
    meaning: "the `default` school holds what predates schools and cannot be deleted",
  },
  people_import_running: {
    status: 409,
    meaning:
      "another import or preview of this school's roster is running: send the file again when it is done",
  },
  poll_has_votes: {
    status: 409,
    meaning: "the change needs a poll without votes (or, to delete, an archived one)",
  },
  poll_closed: {
    status: 409,
    meaning: "the vote was cast at or after the close, or arrived after the late-vote grace",
  },
  poll_not_open: { status: 409, meaning: "the vote was cast before the poll opens" },
  poll_archived: { status: 409, meaning: "the poll is archived and takes no votes" },
  already_voted: {
    status: 409,
    meaning: "this voter already voted in this one-vote-per-voter poll",
  },
  event_id_conflict: {
    status: 409,
    meaning:
      "a batch repeats an eventId for the same poll with another option or voter (`details: {field, conflictsWith}`)",
  },
  body_too_large: { status: 413, meaning: "the body exceeds the route's limit" },
  batch_too_large: { status: 413, meaning: "the batch holds more votes than `MAX_BATCH_ITEMS`" },
  unsupported_media_type: {
    status: 415,
    meaning:
      "`Content-Type` is not the route's (`application/json`; `text/csv` for a roster import)",
  },
  unsupported_encoding: { status: 415, meaning: "a `Content-Encoding` the API does not decode" },
  unsupported_charset: { status: 415, meaning: "a charset other than UTF-8" },
  unknown_option: {
    status: 422,
    meaning:
      "the option is not one of the poll's (`details: {field, optionCount}`, never the list)",
  },
  unknown_person: {
    status: 422,
    meaning:
      "a `voters: \"roster\"` poll and a `voterId` that is no active person of the poll's school (or a kiosk asking for such a person's attendance state)",
  },
  not_in_group: {
    status: 422,
    meaning:
      "a lesson register's `voterId` that is an active person of the school but not in the register's group",
  },
  temperature_out_of_range: {
    status: 422,
    meaning: "a `temperatureC` outside the school's range (`details: {field, min, max}`)",
  },
  rate_limited: {
    status: 429,
    meaning: "a rate limit was reached (`details: {limit, retryAfterSeconds}`, `Retry-After`)",
  },
  too_many_streams_per_address: {
    status: 429,
    meaning: "this client address holds `SSE_MAX_PER_ADDRESS` event streams already",
  },
  headers_too_large: { status: 431, meaning: "the request headers are too large (closed)" },
  internal_error: {
    status: 500,
    meaning: "a defect: logged as an ERROR; never a client's mistake",
  },
  nats_unavailable: {
    status: 503,
    meaning: "the vote queue did not confirm; retry after `Retry-After`",
  },
  queue_full: {
    status: 503,
    meaning: "the vote queue is full (`STREAM_MAX_BYTES`); nothing is dropped",
  },
  redis_unavailable: {
    status: 503,
    meaning: "Redis is down: results, and votes of one-vote-per-voter polls",
  },
  voter_claims_rebuilding: {
    status: 503,
    meaning:
      "a vote with a `voterId` in a one-vote-per-voter poll while its claims are rebuilt into an emptied Redis",
  },
  attendance_state_rebuilding: {
    status: 503,
    meaning:
      "a kiosk's attendance state read while the school's state is rebuilt into an emptied Redis",
  },
  results_not_ready: { status: 503, meaning: "the poll's results are not published yet" },
  attendance_not_ready: {
    status: 503,
    meaning: "the school's day document is not published yet (a new day, a new school)",
  },
  register_not_ready: {
    status: 503,
    meaning: "the lesson register's document is not published yet (a new register)",
  },
  chart_unavailable: {
    status: 503,
    meaning: "the chart of the current version is not rendered yet",
  },
  too_many_streams: {
    status: 503,
    meaning: "this API process holds `SSE_MAX_CLIENTS` event streams already",
  },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose status is S: `ForbiddenError` takes only 403 codes, and so on. */
export type CodeWithStatus<S extends number> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]["status"] extends S ? C : never;
}[ErrorCode];

export type StatusOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]["status"];

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

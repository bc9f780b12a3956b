// Generated from /openapi.json by `npm run api-types` (scripts/api-types/): do not edit.
// The kiosk client's request and answer types derive from these, so that they cannot drift
// from what the API validates and answers (kiosk-client/api-types.test.ts).

/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "BatchItemAnswer".
 */
export type BatchItemAnswer =
  | {
      index: number;
      eventId: string;
      status: "accepted" | "duplicate";
      castAtClamped?: true;
    }
  | {
      index: number;
      eventId: string | null;
      status: "rejected";
      error: {
        status: number;
        code: string;
        message: string;
        details?: unknown;
      };
    };
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Results".
 */
export type Results =
  | {
      pollId: string;
      title: string;
      timeZone: string;
      opensAt: string | null;
      closesAt: string | null;
      status: "not_open" | "open" | "closed";
      /**
       * the ETag's value
       */
      version: string;
      asOf: string | null;
      publishedAt: string;
      hidden: false;
      totalVotes: number;
      options: {
        id: string;
        label: string;
        count: number;
        share: number;
      }[];
      distribution: {
        bucketMinutes: number;
        start: string | null;
        buckets: number;
        windowHours: number;
        series: {
          optionId: string;
          counts: number[];
          before: number;
        }[];
      };
      chart: {
        width: number;
        height: number;
      } | null;
    }
  | {
      pollId: string;
      title: string;
      timeZone: string;
      opensAt: string | null;
      closesAt: string | null;
      status: "not_open" | "open" | "closed";
      /**
       * the ETag's value
       */
      version: string;
      asOf: string | null;
      publishedAt: string;
      hidden: true;
      resultsVisibility: "after_close";
      message: string;
    };

/**
 * Every route of the API: its path and query parameters, body and answers by status.
 */
export interface ApiPaths {
  "/v1/votes": {
    post: {
      requestBody: Vote;
      responses: {
        "202": VoteAnswer;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked" | "poll_not_allowed" | "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "409": {
          error: {
            code: "poll_not_open" | "poll_closed" | "poll_archived" | "already_voted";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "422": Error422;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code:
              "nats_unavailable" | "queue_full" | "redis_unavailable" | "voter_claims_rebuilding";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/votes/batch": {
    post: {
      requestBody: {
        /**
         * @minItems 1
         */
        votes: [Vote, ...Vote[]];
      };
      responses: {
        "200": BatchAnswer;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "409": {
          error: {
            code: "event_id_conflict";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": Error413;
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code:
              "nats_unavailable" | "queue_full" | "redis_unavailable" | "voter_claims_rebuilding";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/pair": {
    post: {
      requestBody: {
        code: string;
      };
      responses: {
        "200": PairedKiosk;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "403": {
          error: {
            code: "kiosk_revoked";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "pairing_code_invalid";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/kiosk": {
    get: {
      responses: {
        "200": KioskSelf;
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/kiosk/heartbeat": {
    post: {
      requestBody: KioskStatus;
      responses: {
        "204": never;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/pair": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vote": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vote/{pollId}": {
    get: {
      responses: {
        "200": string;
        "404": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/kiosk-app/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/kiosk-app/vote.html": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/kiosk-sw.js": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/kiosk-client/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vendor/uuid/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/polls/{pollId}/results": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": Results;
        "304": never;
        "403": {
          error: {
            code: "results_hidden";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "results_not_ready" | "redis_unavailable";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/polls/{pollId}/results.png": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": string;
        "304": never;
        "403": {
          error: {
            code: "results_hidden";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "results_not_ready" | "redis_unavailable" | "chart_unavailable";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/polls/{pollId}/events": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": string;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
        "503": Error503;
      };
    };
    head: {
      path: {
        pollId: string;
      };
      responses: {
        "200": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/public/polls": {
    get: {
      query: {
        schoolId?: string;
      };
      responses: {
        "200": {
          school: {
            id: string;
            name: string;
          };
          polls: PublicPoll[];
        };
        "304": never;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/public/polls/{pollId}": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": PublicPoll;
        "304": never;
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/polls": {
    get: {
      query: {
        /**
         * rows per page (LIST_PAGE_DEFAULT, 100; at most LIST_PAGE_MAX, 500)
         */
        limit?: string;
        /**
         * the `next` of the page before (opaque)
         */
        after?: string;
        /**
         * the deployment admin's filter: one school (a school admin: its own)
         */
        schoolId?: string;
        /**
         * a prefix of the id or of the name (title), any case
         */
        q?: string;
      };
      responses: {
        "200": {
          polls: Poll[];
          /**
           * the `after` of the next page; null: the last
           */
          next: string | null;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    post: {
      requestBody: CreatePoll;
      responses: {
        "201": Poll;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/polls/{id}": {
    get: {
      path: {
        id: string;
      };
      responses: {
        "200": Poll;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    patch: {
      path: {
        id: string;
      };
      requestBody: UpdatePoll;
      responses: {
        "200": Poll;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    delete: {
      path: {
        id: string;
      };
      responses: {
        "200": Poll;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/kiosks": {
    get: {
      query: {
        /**
         * rows per page (LIST_PAGE_DEFAULT, 100; at most LIST_PAGE_MAX, 500)
         */
        limit?: string;
        /**
         * the `next` of the page before (opaque)
         */
        after?: string;
        /**
         * the deployment admin's filter: one school (a school admin: its own)
         */
        schoolId?: string;
        /**
         * a prefix of the id or of the name (title), any case
         */
        q?: string;
        sort?: string;
      };
      responses: {
        "200": {
          kiosks: {
            id: string;
            schoolId: string;
            slug: string;
            name: string;
            /**
             * null: any poll of its school
             */
            pollIds: string[] | null;
            createdAt: string;
            revokedAt: string | null;
            lastSeenAt: string | null;
            status: {
              pending: number;
              oldestPendingAt: string | null;
              lastSentAt: string | null;
              refused: number | null;
              appVersion: string | null;
              persisted: boolean | null;
              lastError: string | null;
              reportedAt: string;
            } | null;
          }[];
          health: "ok" | "unavailable";
          /**
           * the `after` of the next page; null: the last
           */
          next: string | null;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    post: {
      requestBody: CreateKiosk;
      responses: {
        "201": CreatedKiosk;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/kiosks/{id}": {
    patch: {
      path: {
        id: string;
      };
      requestBody: UpdateKiosk;
      responses: {
        "200": Kiosk;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    delete: {
      path: {
        id: string;
      };
      responses: {
        "200": Kiosk;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/kiosks/{id}/pairing": {
    post: {
      path: {
        id: string;
      };
      responses: {
        "201": {
          code: string;
          pairUrl: string;
          expiresAt: string;
          qrSvg: string;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools": {
    get: {
      query: {
        /**
         * schools per page (LIST_PAGE_DEFAULT, 100; at most LIST_PAGE_MAX, 500)
         */
        limit?: string;
        /**
         * the `next` of the page before (opaque)
         */
        after?: string;
        /**
         * a prefix of the id or of the name, any case
         */
        q?: string;
        /**
         * true: each school's polls, open polls, kiosks and votes waiting
         */
        figures?: string;
      };
      responses: {
        "200": {
          schools: SchoolListing[];
          /**
           * the `after` of the next page; null: the last
           */
          next: string | null;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "429": Error429;
        "500": Error500;
      };
    };
    post: {
      requestBody: CreateSchool;
      responses: {
        "201": School;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "409": Error409;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}": {
    get: {
      path: {
        schoolId: string;
      };
      responses: {
        "200": School;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    patch: {
      path: {
        schoolId: string;
      };
      requestBody: UpdateSchool;
      responses: {
        "200": School;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    delete: {
      path: {
        schoolId: string;
      };
      responses: {
        "200": School;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/admins": {
    get: {
      path: {
        schoolId: string;
      };
      responses: {
        "200": {
          admins: SchoolAdmin[];
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    post: {
      path: {
        schoolId: string;
      };
      requestBody: CreateSchoolAdmin;
      responses: {
        "201": {
          id: string;
          schoolId: string;
          label: string;
          createdAt: string;
          /**
           * shown this once
           */
          token: string;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/admins/{adminId}": {
    delete: {
      path: {
        schoolId: string;
        adminId: string;
      };
      responses: {
        "200": SchoolAdmin;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/people": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        limit?: string;
        after?: string;
        q?: string;
        group?: string;
      };
      responses: {
        "200": {
          items: Person[];
          /**
           * the `after` of the next page; null: the last
           */
          next: string | null;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/people/import": {
    post: {
      path: {
        schoolId: string;
      };
      query: {
        mode?: string;
        dryRun?: string;
      };
      requestBody: string;
      responses: {
        "200": {
          mode: "upsert" | "replace";
          rows: number;
          created: number;
          updated: number;
          unchanged: number;
          deactivated?: number;
          /**
           * a preview (`?dryRun=true`): what the import would do; nothing written
           */
          dryRun?: true;
          errorCount: number;
          errors: {
            line: number;
            field: string;
            message: string;
          }[];
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "409": Error409;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/people/export": {
    get: {
      path: {
        schoolId: string;
      };
      responses: {
        "200": string;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/people/{personId}": {
    get: {
      path: {
        schoolId: string;
        personId: string;
      };
      responses: {
        "200": Person;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
    put: {
      path: {
        schoolId: string;
        personId: string;
      };
      requestBody: PutPerson;
      responses: {
        "200": Person;
        "201": Person;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    patch: {
      path: {
        schoolId: string;
        personId: string;
      };
      requestBody: PatchPerson;
      responses: {
        "200": Person;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    delete: {
      path: {
        schoolId: string;
        personId: string;
      };
      responses: {
        "200": {
          erased: true;
          id: string;
          pseudonym: string;
          eventsRewritten: number;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/kiosk/people/{personId}/attendance": {
    get: {
      path: {
        personId: string;
      };
      responses: {
        "200": KioskAttendanceState;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked" | "attendance_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "422": {
          error: {
            code: "unknown_person";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "attendance_state_rebuilding" | "redis_unavailable";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/schools/{schoolId}/attendance": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        period?: string;
        date?: string;
        group?: string;
        limit?: string;
        after?: string;
      };
      responses: {
        "200":
          | AttendanceDay
          | {
              schoolId: string;
              period: "week" | "month";
              date: string;
              from: string;
              to: string;
              through: string | null;
              schoolDays: number;
              minPresentDaysPct: number;
              group: string | null;
              items: {
                id: string;
                name: string | null;
                groups: string[];
                presentDays: number;
                schoolDays: number;
                share: number;
                status: "present" | "absent";
              }[];
              next: string | null;
            };
        "304": never;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
        "503": Error503;
      };
    };
    patch: {
      path: {
        schoolId: string;
      };
      requestBody: AttendanceSettingsPatch;
      responses: {
        "200": AttendanceSettings;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/attendance/events": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        date?: string;
      };
      responses: {
        "200": string;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
        "503": Error503;
      };
    };
    head: {
      path: {
        schoolId: string;
      };
      query: {
        date?: string;
      };
      responses: {
        "200": never;
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/public/schools/{schoolId}/attendance": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        date?: string;
        group?: string;
      };
      responses: {
        "200": AttendanceCounts;
        "304": never;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "attendance_not_ready" | "redis_unavailable";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/schools/{schoolId}/holidays": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        from: string;
        to: string;
      };
      responses: {
        "200": {
          schoolId: string;
          from: string;
          to: string;
          holidays: {
            date: string;
            name: string;
          }[];
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/holidays/{date}": {
    put: {
      path: {
        schoolId: string;
        date: string;
      };
      requestBody: PutHoliday;
      responses: {
        "200": {
          schoolId: string;
          date: string;
          name: string;
        };
        "201": {
          schoolId: string;
          date: string;
          name: string;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "413": Error413;
        "415": Error415;
        "429": Error429;
        "500": Error500;
      };
    };
    delete: {
      path: {
        schoolId: string;
        date: string;
      };
      responses: {
        "200": {
          schoolId: string;
          date: string;
          name: string;
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/people/{personId}/attendance": {
    get: {
      path: {
        schoolId: string;
        personId: string;
      };
      query: {
        from: string;
        to: string;
      };
      responses: {
        "200": {
          schoolId: string;
          personId: string;
          name: string | null;
          from: string;
          to: string;
          days: {
            date: string;
            schoolDay: boolean;
            minutes: number;
            present: boolean;
            inNow: boolean;
            autoClosed: boolean;
            late: boolean;
            fever: boolean;
            maxTemperatureC: number | null;
            anomalies: number;
            firstIn: string | null;
            lastOut: string | null;
            events: number;
          }[];
          summary: {
            through: string | null;
            schoolDays: number;
            presentDays: number;
            share: number;
            status: "present" | "absent";
          };
        };
        "400": Error400;
        "401": Error401;
        "403": Error403;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/teachers": {
    get: {
      path: {
        schoolId: string;
      };
      responses: {
        "200": {
          teachers: Teacher[];
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
    post: {
      path: {
        schoolId: string;
      };
      requestBody: CreateTeacher;
      responses: {
        "201": {
          id: string;
          schoolId: string;
          label: string;
          createdAt: string;
          /**
           * `tft_…`, shown this once
           */
          token: string;
        };
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/teachers/{teacherId}": {
    delete: {
      path: {
        schoolId: string;
        teacherId: string;
      };
      responses: {
        "200": Teacher;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found" | "teacher_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/registers/{pollId}/complete": {
    post: {
      path: {
        pollId: string;
      };
      requestBody: CompleteRegister;
      responses: {
        "202": RegisterCompletion;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "kiosk_revoked" | "poll_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "409": {
          error: {
            code: "poll_not_open" | "poll_archived";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "nats_unavailable" | "queue_full";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/registers/{pollId}": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": LessonRegister;
        "304": never;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "register_not_ready" | "redis_unavailable";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/schools/{schoolId}/groups/{groupId}/stats": {
    get: {
      path: {
        schoolId: string;
        groupId: string;
      };
      query: {
        from: string;
        to: string;
      };
      responses: {
        "200": {
          schoolId: string;
          groupId: string;
          from: string;
          to: string;
          lessonsHeld: number;
          lessonsNotCompleted: number;
          /**
           * person-lessons of the held lessons
           */
          present: number;
          absent: number;
          /**
           * present / (present + absent), 4 decimals
           */
          share: number;
          changedAfterCompletion: number;
          people: {
            id: string;
            lessons: number;
            present: number;
            absent: number;
            /**
             * present / (present + absent), 4 decimals
             */
            share: number;
          }[];
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/registers/stats": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        from: string;
        to: string;
      };
      responses: {
        "200": {
          schoolId: string;
          from: string;
          to: string;
          lessonsHeld: number;
          lessonsNotCompleted: number;
          /**
           * person-lessons of the held lessons
           */
          present: number;
          absent: number;
          /**
           * present / (present + absent), 4 decimals
           */
          share: number;
          changedAfterCompletion: number;
          groups: {
            groupId: string;
            lessonsHeld: number;
            lessonsNotCompleted: number;
            /**
             * person-lessons of the held lessons
             */
            present: number;
            absent: number;
            /**
             * present / (present + absent), 4 decimals
             */
            share: number;
            changedAfterCompletion: number;
          }[];
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/registers": {
    get: {
      path: {
        schoolId: string;
      };
      query: {
        state: "overdue";
      };
      responses: {
        "200": {
          schoolId: string;
          state: "overdue";
          /**
           * REGISTER_COMPLETION_GRACE_MS
           */
          graceMs: number;
          /**
           * oldest end first, at most 1,000
           */
          registers: {
            id: string;
            slug: string;
            title: string;
            groupId: string;
            startsAt: string;
            endsAt: string;
            absent: number;
            events: number;
          }[];
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/polls/{pollId}/results.csv": {
    get: {
      path: {
        /**
         * the poll's id
         */
        pollId: string;
      };
      query: {
        by?: string;
      };
      responses: {
        "200": string;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/polls/{pollId}/votes.csv": {
    get: {
      path: {
        /**
         * the poll's id
         */
        pollId: string;
      };
      responses: {
        "200": string;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/attendance.csv": {
    get: {
      path: {
        /**
         * the school's id
         */
        schoolId: string;
      };
      query: {
        from: string;
        to: string;
      };
      responses: {
        "200": string;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/schools/{schoolId}/teachers/{teacherId}/sign-in-link": {
    post: {
      path: {
        schoolId: string;
        teacherId: string;
      };
      responses: {
        "201": {
          teacherId: string;
          schoolId: string;
          /**
           * `<PUBLIC_URL or the request's origin>/register#code=…`: single use, the code in the fragment (never sent to a server)
           */
          link: string;
          expiresAt: string;
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found" | "teacher_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/teachers/sign-in": {
    post: {
      requestBody: TeacherSignIn;
      responses: {
        "200": {
          teacherId: string;
          schoolId: string;
          label: string;
          /**
           * `tft_…`, shown this once; the teacher's previous token stops working
           */
          token: string;
        };
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "sign_in_link_invalid";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/teacher": {
    get: {
      responses: {
        "200": TeacherDay;
        "401": Error401;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/registers/{pollId}/roster": {
    get: {
      path: {
        pollId: string;
      };
      responses: {
        "200": RegisterRoster;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "404": {
          error: {
            code: "poll_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/register": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/healthz": {
    get: {
      responses: {
        "200": {
          status: "ok";
        };
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/readyz": {
    get: {
      responses: {
        "200": {
          status: "ready" | "not_ready";
          checks: {
            postgres: {
              ok: boolean;
            };
            nats: {
              ok: boolean;
            };
            redis: {
              ok: boolean;
            };
          };
          registryCacheAgeMs: number | null;
        };
        "429": Error429;
        "500": Error500;
        "503": {
          status: "ready" | "not_ready";
          checks: {
            postgres: {
              ok: boolean;
            };
            nats: {
              ok: boolean;
            };
            redis: {
              ok: boolean;
            };
          };
          registryCacheAgeMs: number | null;
        };
      };
    };
  };
  "/": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/s/{schoolId}": {
    get: {
      responses: {
        "200": string;
        "404": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/dashboard/{pollId}": {
    get: {
      responses: {
        "200": string;
        "404": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/kiosk/{pollId}": {
    get: {
      responses: {
        "200": string;
        "404": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/assets/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vendor/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vendor/chart.umd.min.js": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vendor/chart.umd.min.js.map": {
    get: {
      responses: {
        "200": {
          [k: string]: unknown | undefined;
        };
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/common/browser/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/console/invites": {
    post: {
      requestBody: CreateConsoleInvite;
      responses: {
        "201": ConsoleInvite;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "csrf_failed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/console/sessions": {
    get: {
      query: {
        /**
         * the deployment admin's filter; a school admin reads its own school
         */
        schoolId?: string;
      };
      responses: {
        "200": {
          sessions: {
            id: string;
            role: "deployment" | "school";
            schoolId: string | null;
            adminId: string | null;
            label: string;
            createdAt: string;
            /**
             * the absolute end (CONSOLE_SESSION_MAX_MS)
             */
            expiresAt: string;
            /**
             * unused this long, it ends (CONSOLE_SESSION_IDLE_MS)
             */
            idleMs: number;
            lastSeenAt: string;
            /**
             * the client address it signed in from
             */
            address: string | null;
          }[];
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
    post: {
      requestBody: ConsoleSignIn;
      responses: {
        "201": OwnConsoleSession;
        "400": {
          error: {
            code:
              | "invalid_request"
              | "malformed_json"
              | "unreadable_body"
              | "request_aborted"
              | "bad_length";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "invite_invalid";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "413": {
          error: {
            code: "body_too_large";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "415": Error415;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/console/sessions/{id}": {
    delete: {
      path: {
        id: string;
      };
      responses: {
        "200": ConsoleSession;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "csrf_failed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "session_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/console/session": {
    get: {
      responses: {
        "200": OwnConsoleSession;
        "401": Error401;
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
    delete: {
      responses: {
        "204": never;
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "csrf_failed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/audit": {
    get: {
      query: {
        /**
         * an admin id, or "deployment" for the deployment admin
         */
        actor?: string;
        /**
         * a route as `METHOD /path/:param`
         */
        action?: string;
        /**
         * entries at or after this instant
         */
        from?: string;
        /**
         * entries before this instant
         */
        to?: string;
        /**
         * the entries after this one, newest first (by time, then id): the previous page's `next`
         */
        before?: string;
        /**
         * entries per page (AUDIT_PAGE_DEFAULT; at most AUDIT_PAGE_MAX)
         */
        limit?: number;
        /**
         * the deployment admin's filter; a school admin reads its own school
         */
        schoolId?: string;
      };
      responses: {
        "200": {
          entries: AuditEntry[];
          /**
           * `before=` for the next page; null: no more
           */
          next: string | null;
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/audit.csv": {
    get: {
      query: {
        /**
         * an admin id, or "deployment" for the deployment admin
         */
        actor?: string;
        /**
         * a route as `METHOD /path/:param`
         */
        action?: string;
        /**
         * entries at or after this instant
         */
        from?: string;
        /**
         * entries before this instant
         */
        to?: string;
        /**
         * the entries after this one, newest first (by time, then id): the previous page's `next`
         */
        before?: string;
        /**
         * entries per page (AUDIT_PAGE_DEFAULT; at most AUDIT_PAGE_MAX)
         */
        limit?: number;
        /**
         * the deployment admin's filter; a school admin reads its own school
         */
        schoolId?: string;
      };
      responses: {
        "200": string;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "school_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/console": {
    get: {
      responses: {
        "301": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/console/": {
    get: {
      responses: {
        "200": string;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/console/assets/{file}": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "404": Error404;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/vendor/{package}/{file}": {
    get: {
      responses: {
        "200": string;
        "404": {
          error: {
            code: "route_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/v1/dead-letters": {
    get: {
      query: {
        /**
         * only this poll's messages
         */
        pollId?: string;
        /**
         * only those set aside for this reason
         */
        reason?: "invalid" | "store_failed" | "max_deliveries";
        /**
         * pending (not yet replayed: the default), replayed, or all
         */
        state?: "pending" | "replayed" | "all";
        /**
         * dead letters after this id: the previous page's `next`
         */
        after?: string;
        /**
         * per page (DEAD_LETTERS_PAGE_DEFAULT; at most DEAD_LETTERS_PAGE_MAX)
         */
        limit?: string;
      };
      responses: {
        "200": {
          deadLetters: DeadLetter[];
          /**
           * `after=` of the next page; null: the last
           */
          next: string | null;
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "deployment_admin_required";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
      };
    };
  };
  "/v1/dead-letters/replay": {
    post: {
      query: {
        /**
         * only this poll's messages
         */
        pollId?: string;
        /**
         * only those set aside for this reason
         */
        reason?: "invalid" | "store_failed" | "max_deliveries";
      };
      responses: {
        "200": {
          replayed: ReplayedDeadLetter[];
          /**
           * others wait (past DEAD_LETTERS_REPLAY_MAX): call again
           */
          more: boolean;
        };
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "deployment_admin_required" | "csrf_failed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "nats_unavailable" | "queue_full";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/v1/dead-letters/{id}/replay": {
    post: {
      path: {
        /**
         * its id
         */
        id: string;
      };
      responses: {
        "200": ReplayedDeadLetter;
        "400": {
          error: {
            code: "invalid_request";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "401": Error401;
        "403": {
          error: {
            code: "teacher_not_allowed" | "deployment_admin_required" | "csrf_failed";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "404": {
          error: {
            code: "dead_letter_not_found";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "429": {
          error: {
            code: "rate_limited";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
        "500": Error500;
        "503": {
          error: {
            code: "nats_unavailable" | "queue_full";
            message: string;
            details?:
              | {
                  issues: {
                    field: string;
                    message: string;
                  }[];
                }
              | {
                  [k: string]: unknown | undefined;
                };
          };
        };
      };
    };
  };
  "/openapi.json": {
    get: {
      responses: {
        "200": {
          [k: string]: unknown | undefined;
        };
        "304": never;
        "429": Error429;
        "500": Error500;
      };
    };
  };
  "/api": {
    get: {
      responses: {
        "200": string;
        "304": never;
        "429": Error429;
        "500": Error500;
      };
    };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Vote".
 */
export interface Vote {
  eventId?: string;
  pollId: string;
  optionId: string;
  voterId?: string;
  castAt?: string;
  temperatureC?: number;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "VoteAnswer".
 */
export interface VoteAnswer {
  eventId: string;
  status: "accepted" | "duplicate";
  castAtClamped?: true;
}
/**
 * an error of status 401
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error401".
 */
export interface Error401 {
  error: {
    code: "unauthorized";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 415
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error415".
 */
export interface Error415 {
  error: {
    code: "unsupported_media_type" | "unsupported_encoding" | "unsupported_charset";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 422
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error422".
 */
export interface Error422 {
  error: {
    code: "unknown_option" | "unknown_person" | "not_in_group" | "temperature_out_of_range";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 500
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error500".
 */
export interface Error500 {
  error: {
    code: "internal_error";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "BatchAnswer".
 */
export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  /**
   * in input order
   */
  results: BatchItemAnswer[];
}
/**
 * an error of status 413
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error413".
 */
export interface Error413 {
  error: {
    code: "body_too_large" | "batch_too_large";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "PairedKiosk".
 */
export interface PairedKiosk {
  kioskId: string;
  schoolId: string;
  name: string;
  token: string;
  pollIds: string[] | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "KioskSelf".
 */
export interface KioskSelf {
  id: string;
  name: string;
  pollIds: string[] | null;
  /**
   * open first, then not open yet; by title
   */
  polls: PublicPoll[];
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "PublicPoll".
 */
export interface PublicPoll {
  id: string;
  schoolId: string;
  kind: "vote" | "attendance" | "register";
  title: string;
  status: "not_open" | "open" | "closed";
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: "live" | "after_close";
  archived: boolean;
  options: {
    id: string;
    label: string;
  }[];
  oneVotePerVoter: boolean;
  voters: "any" | "roster";
  voteCooldownMs: number;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "KioskStatus".
 */
export interface KioskStatus {
  pending: number;
  oldestPendingAt?: string | null;
  lastSentAt?: string | null;
  refused?: number;
  appVersion?: string | null;
  persisted?: boolean | null;
  lastError?: string | null;
}
/**
 * an error of status 429
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error429".
 */
export interface Error429 {
  error: {
    code: "rate_limited" | "too_many_streams_per_address";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 404
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error404".
 */
export interface Error404 {
  error: {
    code:
      | "poll_not_found"
      | "kiosk_not_found"
      | "school_not_found"
      | "school_admin_not_found"
      | "teacher_not_found"
      | "person_not_found"
      | "holiday_not_found"
      | "pairing_code_invalid"
      | "sign_in_link_invalid"
      | "invite_invalid"
      | "session_not_found"
      | "dead_letter_not_found"
      | "route_not_found";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 403
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error403".
 */
export interface Error403 {
  error: {
    code:
      | "deployment_admin_required"
      | "kiosk_revoked"
      | "poll_not_allowed"
      | "attendance_not_allowed"
      | "teacher_not_allowed"
      | "csrf_failed"
      | "results_hidden";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * an error of status 503
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error503".
 */
export interface Error503 {
  error: {
    code:
      | "nats_unavailable"
      | "queue_full"
      | "redis_unavailable"
      | "voter_claims_rebuilding"
      | "attendance_state_rebuilding"
      | "results_not_ready"
      | "attendance_not_ready"
      | "register_not_ready"
      | "chart_unavailable"
      | "too_many_streams";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Poll".
 */
export interface Poll {
  /**
   * globally unique: what every URL takes
   */
  id: string;
  schoolId: string;
  /**
   * the poll's name in its school
   */
  slug: string;
  kind: "vote" | "attendance" | "register";
  groupIds: string[] | null;
  /**
   * a lesson register's group
   */
  groupId?: string;
  /**
   * a lesson register's start
   */
  startsAt?: string;
  /**
   * a lesson register's end
   */
  endsAt?: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: "live" | "after_close";
  oneVotePerVoter: boolean;
  voteCooldownMs: number;
  voters: "any" | "roster";
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  options: {
    id: string;
    label: string;
    position: number;
  }[];
}
/**
 * an error of status 400
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error400".
 */
export interface Error400 {
  error: {
    code:
      | "invalid_request"
      | "malformed_json"
      | "unreadable_body"
      | "request_aborted"
      | "bad_length"
      | "bad_request"
      | "invalid_csv";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreatePoll".
 */
export interface CreatePoll {
  id: string;
  schoolId?: string;
  kind?: "vote" | "attendance" | "register";
  title: string;
  /**
   * @minItems 1
   * @maxItems 100
   */
  options?: [
    {
      id: string;
      label: string;
    },
    ...{
      id: string;
      label: string;
    }[]
  ];
  groupId?: string;
  startsAt?: string;
  endsAt?: string;
  groupIds?: [string, ...string[]] | null;
  voters?: "any" | "roster";
  timeZone?: string;
  opensAt?: string | null;
  closesAt?: string | null;
  resultsVisibility?: "live" | "after_close";
  oneVotePerVoter?: boolean;
  voteCooldownMs?: number;
}
/**
 * an error of status 409
 *
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Error409".
 */
export interface Error409 {
  error: {
    code:
      | "poll_exists"
      | "poll_purge_pending"
      | "kiosk_exists"
      | "school_exists"
      | "school_has_votes"
      | "school_is_default"
      | "people_import_running"
      | "poll_has_votes"
      | "poll_closed"
      | "poll_not_open"
      | "poll_archived"
      | "already_voted"
      | "event_id_conflict";
    message: string;
    details?:
      | {
          issues: {
            field: string;
            message: string;
          }[];
        }
      | {
          [k: string]: unknown | undefined;
        };
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "UpdatePoll".
 */
export interface UpdatePoll {
  title?: string;
  /**
   * @minItems 1
   * @maxItems 100
   */
  options?: [
    {
      id: string;
      label: string;
    },
    ...{
      id: string;
      label: string;
    }[]
  ];
  groupIds?: [string, ...string[]] | null;
  voters?: "any" | "roster";
  timeZone?: string;
  opensAt?: string | null;
  closesAt?: string | null;
  resultsVisibility?: "live" | "after_close";
  oneVotePerVoter?: boolean;
  voteCooldownMs?: number;
  archived?: boolean;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreateKiosk".
 */
export interface CreateKiosk {
  id: string;
  schoolId?: string;
  name: string;
  pollIds?: [string, ...string[]] | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreatedKiosk".
 */
export interface CreatedKiosk {
  id: string;
  schoolId: string;
  slug: string;
  name: string;
  /**
   * null: any poll of its school
   */
  pollIds: string[] | null;
  createdAt: string;
  revokedAt: string | null;
  /**
   * shown this once
   */
  token: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "UpdateKiosk".
 */
export interface UpdateKiosk {
  name?: string;
  pollIds?: [string, ...string[]] | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Kiosk".
 */
export interface Kiosk {
  id: string;
  schoolId: string;
  slug: string;
  name: string;
  /**
   * null: any poll of its school
   */
  pollIds: string[] | null;
  createdAt: string;
  revokedAt: string | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "SchoolListing".
 */
export interface SchoolListing {
  id: string;
  name: string;
  timeZone: string;
  attendance: AttendanceSettings;
  createdAt: string;
  updatedAt: string;
  figures?: SchoolFigures;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "AttendanceSettings".
 */
export interface AttendanceSettings {
  dayEndsAt: string;
  minPresentMinutes: number;
  lateAfter: string | null;
  minPresentDaysPct: number;
  weekdays: number[];
  feverThresholdC: number;
  temperatureMinC: number;
  temperatureMaxC: number;
  publicCounts: boolean;
}
/**
 * with `figures=true`
 */
export interface SchoolFigures {
  /**
   * polls not archived
   */
  polls: number;
  /**
   * of those, open now
   */
  openPolls: number;
  /**
   * kiosks not revoked
   */
  kiosks: number;
  /**
   * in their outboxes, as last reported; null: kiosk health unavailable
   */
  votesWaiting: number | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreateSchool".
 */
export interface CreateSchool {
  id: string;
  name: string;
  timeZone?: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "School".
 */
export interface School {
  id: string;
  name: string;
  timeZone: string;
  attendance: AttendanceSettings;
  createdAt: string;
  updatedAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "UpdateSchool".
 */
export interface UpdateSchool {
  name?: string;
  timeZone?: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "SchoolAdmin".
 */
export interface SchoolAdmin {
  id: string;
  schoolId: string;
  label: string;
  createdAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreateSchoolAdmin".
 */
export interface CreateSchoolAdmin {
  label: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Person".
 */
export interface Person {
  schoolId: string;
  id: string;
  /**
   * for the school's own admin only
   */
  name: string | null;
  groups: string[];
  active: boolean;
  createdAt: string;
  updatedAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "PutPerson".
 */
export interface PutPerson {
  name: string | null;
  /**
   * @maxItems 50
   */
  groups?: string[];
  active?: boolean;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "PatchPerson".
 */
export interface PatchPerson {
  name?: string | null;
  /**
   * @maxItems 50
   */
  groups?: string[];
  active?: boolean;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "KioskAttendanceState".
 */
export interface KioskAttendanceState {
  personId: string;
  day: string;
  state: "in" | "out" | "none";
  since: string | null;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "AttendanceDay".
 */
export interface AttendanceDay {
  schoolId: string;
  day: string;
  timeZone: string;
  /**
   * the ETag's value
   */
  version: string;
  asOf: string | null;
  publishedAt: string;
  dayEndsAt: string;
  dayOver: boolean;
  schoolDay: boolean;
  rules: {
    dayEndsAt: string;
    minPresentMinutes: number;
    lateAfter: string | null;
    feverThresholdC: number;
  };
  group?: string;
  counts: {
    roster: number;
    inNow: number;
    present: number;
    absent: number;
    late: number;
    fever: number;
    autoClosed: number;
    anomalies: number;
  };
  lists: {
    inNow: string[];
    out: string[];
    absent: string[];
    late: string[];
    fever: string[];
    autoClosed: string[];
    anomalies: string[];
  };
  /**
   * each group's counts; absent with `?group=`
   */
  groups?: {
    [k: string]:
      | {
          roster: number;
          inNow: number;
          present: number;
          absent: number;
          late: number;
          fever: number;
          autoClosed: number;
          anomalies: number;
        }
      | undefined;
  };
  details: {
    [k: string]:
      | {
          firstIn?: string;
          maxTemperatureC?: number | null;
          anomalies?: number;
        }
      | undefined;
  };
  names?: {
    [k: string]: string | null | undefined;
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "AttendanceSettingsPatch".
 */
export interface AttendanceSettingsPatch {
  dayEndsAt?: string;
  minPresentMinutes?: number;
  lateAfter?: string | null;
  minPresentDaysPct?: number;
  /**
   * @minItems 1
   * @maxItems 7
   */
  weekdays?:
    | [number]
    | [number, number]
    | [number, number, number]
    | [number, number, number, number]
    | [number, number, number, number, number]
    | [number, number, number, number, number, number]
    | [number, number, number, number, number, number, number];
  feverThresholdC?: number;
  temperatureMinC?: number;
  temperatureMaxC?: number;
  publicCounts?: boolean;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "AttendanceCounts".
 */
export interface AttendanceCounts {
  schoolId: string;
  day: string;
  timeZone: string;
  /**
   * the ETag's value
   */
  version: string;
  asOf: string | null;
  publishedAt: string;
  dayEndsAt: string;
  dayOver: boolean;
  schoolDay: boolean;
  rules: {
    dayEndsAt: string;
    minPresentMinutes: number;
    lateAfter: string | null;
    feverThresholdC: number;
  };
  group?: string;
  counts: {
    roster: number;
    inNow: number;
    present: number;
    absent: number;
    late: number;
    fever: number;
    autoClosed: number;
    anomalies: number;
  };
  groups?: {
    [k: string]:
      | {
          roster: number;
          inNow: number;
          present: number;
          absent: number;
          late: number;
          fever: number;
          autoClosed: number;
          anomalies: number;
        }
      | undefined;
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "PutHoliday".
 */
export interface PutHoliday {
  name: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "Teacher".
 */
export interface Teacher {
  id: string;
  schoolId: string;
  label: string;
  createdAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreateTeacher".
 */
export interface CreateTeacher {
  label: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CompleteRegister".
 */
export interface CompleteRegister {
  completionId: string;
  completedAt?: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "RegisterCompletion".
 */
export interface RegisterCompletion {
  pollId: string;
  completionId: string;
  status: "accepted" | "duplicate";
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "LessonRegister".
 */
export interface LessonRegister {
  /**
   * the ETag's value
   */
  version: string;
  publishedAt: string;
  pollId: string;
  schoolId: string;
  groupId: string;
  title: string;
  startsAt: string;
  endsAt: string;
  completed: boolean;
  completedAt: string | null;
  changedAfterCompletion: boolean;
  counts: {
    present: number;
    absent: number;
    pending: number;
    events: number;
  };
  lists: {
    /**
     * person ids in id order
     */
    present: string[];
    /**
     * person ids in id order
     */
    absent: string[];
    /**
     * before the completion: the group's active members not reported absent
     */
    pending: string[];
  };
  /**
   * the people whose latest event was cast after the completion
   */
  changedAfter: string[];
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "TeacherSignIn".
 */
export interface TeacherSignIn {
  code: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "TeacherDay".
 */
export interface TeacherDay {
  teacherId: string;
  schoolId: string;
  label: string;
  /**
   * today in the school's time zone
   */
  day: string;
  /**
   * the school's registers (not archived) starting today, by start then title; at most TEACHER_DAY_MAX_REGISTERS
   */
  registers: {
    id: string;
    title: string;
    groupId: string;
    startsAt: string;
    endsAt: string;
  }[];
  /**
   * true when the day holds more registers than TEACHER_DAY_MAX_REGISTERS listed
   */
  more: boolean;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "RegisterRoster".
 */
export interface RegisterRoster {
  pollId: string;
  schoolId: string;
  groupId: string;
  title: string;
  startsAt: string;
  endsAt: string;
  /**
   * the group's active members now, by name then id
   */
  people: {
    id: string;
    name: string | null;
  }[];
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "CreateConsoleInvite".
 */
export interface CreateConsoleInvite {
  schoolId?: string;
  label: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "ConsoleInvite".
 */
export interface ConsoleInvite {
  /**
   * `<base>/console/#invite=<code>`: works once, shown this once
   */
  link: string;
  schoolId: string | null;
  label: string;
  expiresAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "ConsoleSignIn".
 */
export interface ConsoleSignIn {
  code: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "OwnConsoleSession".
 */
export interface OwnConsoleSession {
  session: {
    id: string;
    role: "deployment" | "school";
    schoolId: string | null;
    adminId: string | null;
    label: string;
    createdAt: string;
    /**
     * the absolute end (CONSOLE_SESSION_MAX_MS)
     */
    expiresAt: string;
    /**
     * unused this long, it ends (CONSOLE_SESSION_IDLE_MS)
     */
    idleMs: number;
    /**
     * a kiosk silent this long shows as offline (KIOSK_SEEN_RECENTLY_MS)
     */
    kioskOfflineMs: number;
  };
  /**
   * send it in `X-CSRF-Token`
   */
  csrfToken: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "ConsoleSession".
 */
export interface ConsoleSession {
  id: string;
  role: "deployment" | "school";
  schoolId: string | null;
  adminId: string | null;
  label: string;
  createdAt: string;
  /**
   * the absolute end (CONSOLE_SESSION_MAX_MS)
   */
  expiresAt: string;
  /**
   * unused this long, it ends (CONSOLE_SESSION_IDLE_MS)
   */
  idleMs: number;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "AuditEntry".
 */
export interface AuditEntry {
  /**
   * ascending: newer entries have larger ids
   */
  id: string;
  at: string;
  schoolId: string | null;
  actorKind: "deployment" | "school" | "teacher";
  actorId: string | null;
  sessionId: string | null;
  action: string;
  objectId: string | null;
  address: string;
  status: number;
  /**
   * what changed (docs/console.md), or null
   */
  changes: {
    [k: string]: unknown | undefined;
  };
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "DeadLetter".
 */
export interface DeadLetter {
  id: string;
  /**
   * from its subject; null when not under SUBJECT_PREFIX
   */
  pollId: string | null;
  subject: string;
  stream: string;
  streamSeq: number;
  /**
   * -1: the whole message; n: the n-th vote of a batch message
   */
  itemIndex: number;
  reason: "invalid" | "store_failed" | "max_deliveries";
  error: string;
  deliveries: number;
  firstSeen: string;
  lastSeen: string;
  replayedAt: string | null;
  /**
   * its bytes as UTF-8, the first 500 characters
   */
  raw: string;
  rawBytes: number;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "ReplayedDeadLetter".
 */
export interface ReplayedDeadLetter {
  id: string;
  /**
   * the stream sequence JetStream stored it at
   */
  seq: number;
  /**
   * JetStream had this replay already (an earlier replay of the same sighting)
   */
  duplicate: boolean;
  replayedAt: string;
}
/**
 * This interface was referenced by `ApiPaths`'s JSON-Schema
 * via the `definition` "SchoolFigures".
 */
export interface SchoolFigures1 {
  /**
   * polls not archived
   */
  polls: number;
  /**
   * of those, open now
   */
  openPolls: number;
  /**
   * kiosks not revoked
   */
  kiosks: number;
  /**
   * in their outboxes, as last reported; null: kiosk health unavailable
   */
  votesWaiting: number | null;
}

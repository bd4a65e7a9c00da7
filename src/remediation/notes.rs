//! How a step of the flow ends a resource: [`Stop`] (skipped or failed, with the lead note),
//! [`Step`], and [`finish`], which gives a resource its status and reason. The notes themselves
//! are [`crate::note::Note`].

use acs_openapi::ApiError;

use crate::note::Note;
use crate::report::{ResourceResult, Status};

/// How a resource's processing ended before the end of the flow: skipped or failed, for the
/// leading reason.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stop {
    pub status: Status,
    pub lead: Note,
}

impl Stop {
    pub(super) fn skip(lead: Note) -> Stop {
        Stop {
            status: Status::Skipped,
            lead,
        }
    }

    pub(super) fn fail(lead: Note) -> Stop {
        Stop {
            status: Status::Failed,
            lead,
        }
    }
}

/// A step's result: its value, or how the resource's processing stopped.
pub(super) type Step<T> = Result<T, Stop>;

/// Records the retried attempts of one call: their RequestIds and a note each.
fn record_retried(
    action: &'static str,
    retried: &[ApiError],
    out: &mut ResourceResult,
    notes: &mut Vec<Note>,
) {
    for e in retried {
        out.api_request_ids
            .extend(e.request_id().map(str::to_string));
        notes.push(Note::Retried {
            action,
            error: e.clone(),
        });
    }
}

/// One answer of a write call in the resource's record: its retried errors noted and every
/// request id kept (a failed call's too, when it has one). The error is the caller's to report.
pub(super) fn record_answer(
    action: &'static str,
    retried: &[ApiError],
    result: Result<String, ApiError>,
    out: &mut ResourceResult,
    notes: &mut Vec<Note>,
) -> Result<(), ApiError> {
    record_retried(action, retried, out, notes);
    match result {
        Ok(request_id) => {
            out.api_request_ids.push(request_id);
            Ok(())
        }
        Err(e) => {
            out.api_request_ids
                .extend(e.request_id().map(str::to_string));
            Err(e)
        }
    }
}

/// Ends a resource: its status and its reason, the lead first, then the notes.
pub(super) fn finish(
    mut out: ResourceResult,
    status: Status,
    lead: Option<Note>,
    notes: Vec<Note>,
) -> ResourceResult {
    out.status = status;
    out.not_in_config = matches!(lead, Some(Note::NotInConfig(_)));
    out.reason = Some(crate::note::reason(lead.iter().chain(&notes)));
    out
}

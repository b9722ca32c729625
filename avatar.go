package swiper

import (
	"context"
	"fmt"
	"time"
)

// ObjectStore keeps avatar images where clients can fetch them
// (store/local, store/cos). Keys are content-addressed (AvatarKey), so a
// Put may be repeated after an unknown outcome: the same key gets the same
// bytes.
//
// Errors: EUnavailable when the storage fails or cannot be reached.
type ObjectStore interface {
	// Put stores data (a JPEG) under key.
	Put(ctx context.Context, key string, data []byte) error
	// Delete removes the object at key; one that is not there is deleted
	// already (nil), so a Delete may be repeated too.
	Delete(ctx context.Context, key string) error
	// URL returns the public URL of key.
	URL(key string) string
}

// AvatarKey is the object key of an avatar: per user, named by the
// SHA-256 (hex) of its bytes, so a new avatar never collides with an old
// one cached by a CDN, and the same image uploaded twice has one URL.
func AvatarKey(uid int64, sha256hex string) string {
	return fmt.Sprintf("avatars/%d/%s.jpg", uid, sha256hex)
}

// UploadStatus is where an avatar upload job stands.
type UploadStatus string

// The states of an upload job (API.md, Job). A job starts pending, is
// uploading while a node holds it, and ends done or failed; a failed job
// may be sent back to pending by an operator.
const (
	UploadPending   UploadStatus = "pending"
	UploadUploading UploadStatus = "uploading"
	UploadDone      UploadStatus = "done"
	UploadFailed    UploadStatus = "failed"
)

// Valid reports whether s is one of the four states.
func (s UploadStatus) Valid() bool {
	switch s {
	case UploadPending, UploadUploading, UploadDone, UploadFailed:
		return true
	}
	return false
}

// UploadFailedMessage is what a user hears when their upload gave up: the
// cause (a storage outage) is for operators, not for the phone.
const UploadFailedMessage = "the avatar could not be stored; please upload it again later"

// UploadKind is what a job does to its object: put an avatar there, or
// delete it (an account's deletion).
type UploadKind string

const (
	UploadPut    UploadKind = "put"
	UploadDelete UploadKind = "delete"
)

// UploadJob is an avatar on its way to object storage, or an object of a
// deleted account on its way out (Kind UploadDelete: no bytes, no URL, no
// events; its user is gone).
type UploadJob struct {
	ID       int64
	UID      int64
	Kind     UploadKind
	Status   UploadStatus
	Attempts int    // attempts begun so far
	Key      string // the object key (AvatarKey)
	URL      string // set when done
	// LastError is the cause of the last failed attempt, for operators.
	LastError string
	// NextAttemptAt is when the job is next due: after its backoff while
	// pending, at the end of its lease while uploading.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ClaimedUpload is a job a node has claimed, with the bytes to store.
type ClaimedUpload struct {
	Job  UploadJob
	Data []byte
}

// UploadClaim names one claim of a job: the job and the attempt the claim
// counted.
type UploadClaim struct {
	ID      int64
	Attempt int
}

// UploadStore keeps avatar upload jobs and the processed images they carry
// (store/postgres). A job and its bytes are committed together before the
// upload is acknowledged, so no acknowledged upload is lost with a node.
//
// Attempts fences a claim: the completion or failure of an attempt is
// recorded only if no later claim took the job over (CompleteUpload and
// FailUpload return false then).
//
// Errors: ENotFound for an unknown job, EUnavailable, EInternal.
type UploadStore interface {
	// CreateUpload stores a new pending job for uid with the image's bytes.
	CreateUpload(ctx context.Context, uid int64, key string, data []byte, now time.Time) (*UploadJob, error)
	// UploadJob returns a job.
	UploadJob(ctx context.Context, id int64) (*UploadJob, error)
	// ClaimUploads claims up to limit due jobs (pending and due, or
	// uploading with an expired lease) for lease, counting an attempt on
	// each. Concurrent claimers never get the same job.
	ClaimUploads(ctx context.Context, limit int, lease time.Duration, now time.Time) ([]ClaimedUpload, error)
	// RenewUploads extends the leases of held jobs, each named by its id
	// and the attempt its claim counted, to now+lease, in one statement,
	// and returns the ids it renewed. A job left out is no longer held
	// under that claim (another claim took it over, or it finished): its
	// holder must abandon the attempt.
	RenewUploads(ctx context.Context, held []UploadClaim, lease time.Duration, now time.Time) ([]int64, error)
	// CompleteUpload marks attempt's job done at url, sets the user's
	// avatar (unless a newer upload of theirs is already done) and appends
	// an avatar.ready event, in one transaction.
	CompleteUpload(ctx context.Context, id int64, attempt int, url string, now time.Time) (bool, error)
	// FailUpload records a failed attempt: the job is due again at next,
	// or, when final, failed for good with an avatar.failed event.
	FailUpload(ctx context.Context, id int64, attempt int, cause string, next time.Time, final bool, now time.Time) (bool, error)
	// Uploads lists up to limit jobs in a state, newest first.
	Uploads(ctx context.Context, status UploadStatus, limit int) ([]UploadJob, error)
	// RetryUpload sends a failed job back to pending, due now, with its
	// attempts reset. A job in any other state is returned unchanged.
	RetryUpload(ctx context.Context, id int64, now time.Time) (*UploadJob, error)
	// UploadCounts returns how many jobs are pending, uploading and failed.
	UploadCounts(ctx context.Context) (map[UploadStatus]int, error)
}

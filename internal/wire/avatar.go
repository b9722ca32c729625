package wire

import "github.com/swiperhq/swiper"

// Job is the wire form of an avatar upload job (API.md, "Me"). url is null
// until the job is done; error is null unless it failed, and then says
// what a person needs to know, never the cause.
type Job struct {
	ID       int64   `json:"id"`
	Status   string  `json:"status"`
	Attempts int     `json:"attempts"`
	URL      *string `json:"url"`
	Error    *string `json:"error"`
}

// JobOf returns the wire form of j.
func JobOf(j *swiper.UploadJob) Job {
	w := Job{ID: j.ID, Status: string(j.Status), Attempts: j.Attempts}
	if j.Status == swiper.UploadDone && j.URL != "" {
		u := j.URL
		w.URL = &u
	}
	if j.Status == swiper.UploadFailed {
		e := swiper.UploadFailedMessage
		w.Error = &e
	}
	return w
}

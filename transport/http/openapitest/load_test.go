package openapitest_test

import (
	"testing"

	"github.com/swiperhq/swiper/transport/http/openapitest"
)

func TestLoad(t *testing.T) {
	v, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(len(v.Operations()))
}

package admin_test

import (
	"os"
	"testing"

	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// TestMain runs the package's tests and, when all of them ran, says which
// admin API operations of the OpenAPI description none of them
// exercised.
func TestMain(m *testing.M) { os.Exit(openapitest.Main(m, openapitest.Admin)) }

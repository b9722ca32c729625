package config_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/config"
)

func TestAbuseLimits(t *testing.T) {
	dc := mustLoad(t, "", nil)
	def := dc.Abuse
	want := config.Abuse{CodesPerAddress: 20, LoginsPerAddress: 60, CodesPerPhone: 10, SMSPerHour: 1000, SMSPerDay: 10000, WrongCodes: 10, Lockout: time.Hour}
	if !reflect.DeepEqual(def, want) {
		t.Errorf("default Abuse = %+v; want %+v (no trusted proxies)", def, want)
	}
	c := mustLoad(t, "", map[string]string{
		"SWIPER_TRUSTED_PROXIES":     "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
		"SWIPER_CODES_PER_ADDRESS":   "5",
		"SWIPER_LOGINS_PER_ADDRESS":  "6",
		"SWIPER_CODES_PER_PHONE":     "7",
		"SWIPER_SMS_PER_HOUR":        "8",
		"SWIPER_SMS_PER_DAY":         "9",
		"SWIPER_WRONG_CODES_PER_DAY": "11",
		"SWIPER_LOGIN_LOCKOUT":       "30m",
	})
	want = config.Abuse{
		TrustedProxies:  []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")},
		CodesPerAddress: 5, LoginsPerAddress: 6, CodesPerPhone: 7, SMSPerHour: 8, SMSPerDay: 9, WrongCodes: 11, Lockout: 30 * time.Minute,
	}
	if got := c.Abuse; !reflect.DeepEqual(got, want) {
		t.Errorf("Abuse = %+v; want %+v", got, want)
	}
	for name, v := range map[string]string{
		"SWIPER_TRUSTED_PROXIES":   "10.0.0.0/8,not-an-ip",
		"SWIPER_CODES_PER_ADDRESS": "0",
		"SWIPER_SMS_PER_DAY":       "many",
		"SWIPER_LOGIN_LOCKOUT":     "1ms",
	} {
		if _, err := config.Load("", func(k string) string {
			if k == name {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("Load with %s=%q: no error; want one", name, v)
		}
	}
}

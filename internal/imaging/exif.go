package imaging

import "encoding/binary"

// orientation returns a JPEG's EXIF orientation (1–8), 1 when it has none
// or its EXIF cannot be trusted.
//
// It reads only what it needs, and every step is bounded by the bytes
// given: it walks the JPEG's segments up to the first scan, takes the
// first APP1 segment that holds EXIF, and reads tag 0x0112 (a SHORT) from
// IFD0 alone: it follows no link to another IFD (a chain of IFDs may be a
// cycle) and reads no entry past the segment's end, whatever the counts
// and offsets in it say. Each loop moves forward through b, so the work is
// at most linear in len(b).
func orientation(b []byte) int {
	o := 1
	jpegSegments(b, func(m byte, seg []byte) bool {
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			o = tiffOrientation(seg[6:])
			return false
		}
		return true
	})
	return o
}

// jpegSegments calls f with each marker segment of a JPEG (its marker and
// its payload, after the length) up to the first scan, while f returns
// true. It stops at anything that is not a well-formed segment; the
// decoder is the judge of damage. Each step moves forward through b.
func jpegSegments(b []byte, f func(marker byte, seg []byte) bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte before a marker
			i++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image
			return
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return
		}
		if !f(m, b[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// jpegFrame returns whether a JPEG is progressive and how many components
// its frame has (0 when no frame header is found).
func jpegFrame(b []byte) (progressive bool, components int) {
	jpegSegments(b, func(m byte, seg []byte) bool {
		// SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
		if m < 0xC0 || m > 0xCF || m == 0xC4 || m == 0xC8 || m == 0xCC {
			return true
		}
		progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE
		if len(seg) >= 6 {
			components = int(seg[5])
		}
		return false
	})
	return progressive, components
}

// tiffOrientation reads the orientation from IFD0 of a TIFF structure t
// (the body of an EXIF segment, offsets counted from its start).
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > uint64(len(t)) {
		return 1
	}
	count := int(bo.Uint16(t[ifd:]))
	// At most the entries that fit: a count may claim more than are there.
	count = min(count, (len(t)-int(ifd)-2)/12)
	for k := range count {
		e := t[int(ifd)+2+12*k:][:12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		const typeShort = 3
		if bo.Uint16(e[2:]) != typeShort || bo.Uint32(e[4:]) < 1 {
			return 1
		}
		// One SHORT fits in the value field itself, at its start.
		o := int(bo.Uint16(e[8:]))
		if o < 1 || o > 8 {
			return 1
		}
		return o
	}
	return 1
}

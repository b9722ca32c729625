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
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 1 // not a marker: damaged, and the decoder will say so
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte before a marker
			i++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image: no EXIF before them
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
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

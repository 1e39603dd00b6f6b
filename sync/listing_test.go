package sync

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListing(t *testing.T) {
	want := map[string]Remote{}
	listed := map[string]time.Time{} // what the store said
	var keys []string
	for i := range 2000 {
		key := fmt.Sprintf("p/%02x/%d", i%251, i)
		if i%97 == 0 {
			key += strings.Repeat("ü/", 40) // multi-byte, longer keys
		}
		etag := fmt.Sprintf("%032x", i*7919) // a single-part ETag, stored as 16 bytes
		switch i % 4 {
		case 1:
			etag = fmt.Sprintf("%032x-%d", i, i%3+2) // multipart
		case 2:
			etag = fmt.Sprintf("%032X", i) // upper case: kept as it is
		}
		switch i % 50 { // outside the listing prefix (the store misbehaves), before and after it
		case 0:
			key = "other/" + key
		case 25:
			key = "p." + key[2:]
		case 30:
			key = "p0" + key[2:]
		}
		if i == 35 {
			key = "p"
		}
		modified := time.Unix(1700000000+int64(i)*3607, 0).UTC()
		listed[key] = modified
		switch i % 7 {
		case 3: // the store did not say
			modified = time.Time{}
			listed[key] = modified
		case 5: // finer than S3 lists: kept to the second
			listed[key] = modified.Add(999 * time.Millisecond)
		case 6: // before 1970: kept as very old
			listed[key] = time.Unix(-86400, 0)
			modified = time.Unix(1, 0).UTC()
		}
		want[key] = Remote{ETag: etag, Size: int64(i) * 1001, LastModified: modified}
		keys = append(keys, key)
	}
	for _, order := range []string{"sorted", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			in := slices.Clone(keys)
			if order == "sorted" {
				slices.Sort(in)
			} else {
				rand.New(rand.NewPCG(1, 2)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			}
			l := newListing("p/")
			for _, k := range in {
				if err := l.add(k, want[k].ETag, want[k].Size, listed[k]); err != nil {
					t.Fatal(err)
				}
			}
			l.sort()
			if l.Len() != len(want) {
				t.Fatalf("Len() = %d; want %d", l.Len(), len(want))
			}
			for k, r := range want {
				if got, ok := l.Get(k); !ok || got != r {
					t.Fatalf("Get(%q) = %+v, %v; want %+v, true", k, got, ok, r)
				}
			}
			for _, miss := range []string{"", "p/", "p/00", "p/00/0x", "q", "p/ff/1", "\xff", "other/", "o", "other/p/00/0x"} {
				if got, ok := l.Get(miss); ok {
					t.Errorf("Get(%q) = %+v; want not found", miss, got)
				}
			}
			var seen []string
			l.Each(func(key string, r Remote) bool {
				if want[key] != r {
					t.Errorf("Each gave %q %+v; want %+v", key, r, want[key])
				}
				seen = append(seen, key)
				return true
			})
			if !slices.IsSorted(seen) || len(seen) != len(want) {
				t.Errorf("Each gave %d keys, sorted %v; want %d in order", len(seen), slices.IsSorted(seen), len(want))
			}
		})
	}
}

func TestListingDuplicatesKeepLast(t *testing.T) {
	l := newListing("")
	for i, k := range []string{"b", "a", "b", "c", "a", "b"} {
		l.add(k, fmt.Sprint(i), 1, time.Time{})
	}
	l.sort()
	var got []string
	l.Each(func(key string, r Remote) bool { got = append(got, key+"="+r.ETag); return true })
	if want := []string{"a=4", "b=5", "c=3"}; !slices.Equal(got, want) {
		t.Errorf("listing a, b twice or more gives %q; want %q", got, want)
	}
}

func TestListingEmptyAndStop(t *testing.T) {
	l := newListing("p/")
	l.sort()
	if _, ok := l.Get("a"); ok || l.Len() != 0 {
		t.Fatalf("an empty listing finds something")
	}
	for _, k := range []string{"a", "b", "c"} {
		l.add(k, "e", 1, time.Time{})
	}
	n := 0
	l.Each(func(string, Remote) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("Each went on after false: %d calls", n)
	}
	if err := l.add(strings.Repeat("k", 70000), "e", 1, time.Time{}); err == nil {
		t.Errorf("add of a 70,000-byte key succeeded")
	}
}

// TestListingGetAllocs keeps lookups cheap: a miss costs
// no allocation, a hit only its ETag string.
func TestListingGetAllocs(t *testing.T) {
	l := newListing("p/")
	for i := range 1000 {
		l.add(fmt.Sprintf("p/k%04d", i), "0123456789abcdef0123456789abcdef", 1, time.Now())
	}
	l.sort()
	if n := testing.AllocsPerRun(100, func() { l.Get("p/k0500x") }); n != 0 {
		t.Errorf("a miss allocates %v times; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { l.Get("p/k0500") }); n > 1 {
		t.Errorf("a hit allocates %v times; want at most 1", n)
	}
}

#include "docker/tar_archive.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

namespace wa::docker {
namespace {

constexpr size_t kBlock = 512;

// ustar header field offsets and widths (POSIX.1-1988, as kept by pax in POSIX.1-2001).
constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kModeOff = 100, kModeLen = 8;
constexpr size_t kUidOff = 108, kUidLen = 8;
constexpr size_t kGidOff = 116, kGidLen = 8;
constexpr size_t kSizeOff = 124, kSizeLen = 12;
constexpr size_t kMtimeOff = 136, kMtimeLen = 12;
constexpr size_t kChksumOff = 148, kChksumLen = 8;
constexpr size_t kTypeOff = 156;
constexpr size_t kLinkOff = 157, kLinkLen = 100;
constexpr size_t kMagicOff = 257, kMagicLen = 8;  // magic and version
constexpr size_t kDevMajorOff = 329, kDevMinorOff = 337, kDevLen = 8;
constexpr size_t kPrefixOff = 345, kPrefixLen = 155;

// POSIX ustar's magic "ustar" NUL and version "00"; GNU tar's own format has "ustar  " NUL.
constexpr std::string_view kPosixMagic(
    "ustar\0"
    "00",
    kMagicLen);

// The largest values the octal fields hold (7 and 11 digits before the NUL).
constexpr uint64_t kMaxOctal7 = 07777777;
constexpr uint64_t kMaxOctal11 = 077777777777;

size_t padded(uint64_t size) { return static_cast<size_t>((size + kBlock - 1) / kBlock * kBlock); }

// Writes value as zero-padded octal filling width - 1 digits and a NUL; value must fit.
void putOctal(char* field, size_t width, uint64_t value) {
  field[width - 1] = '\0';
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
}

void putText(char* field, size_t width, std::string_view text) {
  if (text.empty()) return;  // an empty view's data() may be null, which memcpy must not get
  std::memcpy(field, text.data(), std::min(width, text.size()));
}

// The checksum: every header byte summed, with the checksum field counted as spaces.
uint64_t headerSum(const unsigned char* header) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i)
    sum += (i >= kChksumOff && i < kChksumOff + kChksumLen) ? ' ' : header[i];
  return sum;
}

// Historic writers summed signed chars; readers accept either sum.
int64_t signedHeaderSum(const unsigned char* header) {
  int64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= kChksumOff && i < kChksumOff + kChksumLen)
               ? ' '
               : static_cast<int64_t>(static_cast<signed char>(header[i]));
  }
  return sum;
}

// One PAX extended header record: "<length> <key>=<value>\n", length counting itself.
std::string paxRecord(std::string_view key, std::string_view value) {
  const size_t rest = 1 + key.size() + 1 + value.size() + 1;  // " key=value\n"
  size_t length = rest + 1;
  while (std::to_string(length).size() + rest != length)
    length = std::to_string(length).size() + rest;
  std::string record = std::to_string(length);
  record += ' ';
  record += key;
  record += '=';
  record += value;
  record += '\n';
  return record;
}

// Splits name into a ustar prefix and name (joined by the '/' between them), if it fits.
bool splitUstar(std::string_view name, std::string_view* prefix, std::string_view* rest) {
  if (name.size() <= kNameLen) {
    *prefix = {};
    *rest = name;
    return true;
  }
  // The first '/' that leaves at most 100 bytes after it keeps the prefix shortest.
  for (size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    if (slash > kPrefixLen) return false;
    const size_t tail = name.size() - slash - 1;
    if (tail == 0) return false;  // only a trailing '/' left: no name part
    if (tail <= kNameLen && slash > 0) {
      *prefix = name.substr(0, slash);
      *rest = name.substr(slash + 1);
      return true;
    }
  }
  return false;
}

// The archive name without leading "/" and "./" parts; "." alone is the root, "".
std::string_view normalized(std::string_view path) {
  for (;;) {
    if (path.starts_with("/")) {
      path.remove_prefix(1);
    } else if (path.starts_with("./")) {
      path.remove_prefix(2);
    } else if (path == ".") {
      path = {};
    } else {
      break;
    }
  }
  return path;
}

// --- reading ---

// A numeric field: octal digits (leading spaces or zeros, ended by NUL or space), or
// GNU's base-256 (first byte's high bit set) for values octal cannot hold.
std::optional<uint64_t> parseNumber(const unsigned char* field, size_t width) {
  if (field[0] & 0x80) {
    if (field[0] == 0xff) return std::nullopt;  // negative
    uint64_t value = field[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) {
      if (value > (std::numeric_limits<uint64_t>::max() >> 8)) return std::nullopt;
      value = (value << 8) | field[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  uint64_t value = 0;
  bool digits = false;
  for (; i < width; ++i) {
    const unsigned char c = field[i];
    if (c == '\0' || c == ' ') break;
    if (c < '0' || c > '7') return std::nullopt;
    if (value > (std::numeric_limits<uint64_t>::max() >> 3)) return std::nullopt;
    value = (value << 3) | (c - '0');
    digits = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') return std::nullopt;  // digits after the end
  }
  if (!digits) return 0;  // an empty field: GNU tar and Go read it as 0
  return value;
}

std::optional<uint64_t> parseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// A NUL-terminated (or full-width) text field.
std::string_view textField(const unsigned char* field, size_t width) {
  const char* text = reinterpret_cast<const char*>(field);
  return std::string_view(text, strnlen(text, width));
}

bool allZero(const unsigned char* block) {
  return std::all_of(block, block + kBlock, [](unsigned char c) { return c == 0; });
}

// Overrides for the next entry, from a PAX 'x' header or GNU 'L'/'K' headers.
struct Pending {
  std::optional<std::string> path;
  std::optional<std::string> link_target;
  std::optional<uint64_t> size;
  std::optional<uint64_t> uid;
  std::optional<uint64_t> gid;
  bool any() const { return path || link_target || size || uid || gid; }
};

// Parses PAX records into pending; false on a malformed record.
bool parsePax(std::string_view data, Pending* pending) {
  while (!data.empty()) {
    const size_t space = data.find(' ');
    if (space == std::string_view::npos) return false;
    const std::optional<uint64_t> length = parseDecimal(data.substr(0, space));
    if (!length || *length <= space + 1 || *length > data.size()) return false;
    const std::string_view record = data.substr(0, static_cast<size_t>(*length));
    data.remove_prefix(static_cast<size_t>(*length));
    if (record.back() != '\n') return false;
    const std::string_view field = record.substr(space + 1, record.size() - space - 2);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    // An empty value takes the header's own field back (POSIX: the keyword is deleted).
    auto number = [&](std::optional<uint64_t>* out) {
      if (value.empty()) {
        out->reset();
        return true;
      }
      *out = parseDecimal(value);
      return out->has_value();
    };
    if (key == "path") {
      if (value.empty()) {
        pending->path.reset();
      } else {
        pending->path = std::string(value);
      }
    } else if (key == "linkpath") {
      if (value.empty()) {
        pending->link_target.reset();
      } else {
        pending->link_target = std::string(value);
      }
    } else if (key == "size") {
      if (!number(&pending->size)) return false;
    } else if (key == "uid") {
      if (!number(&pending->uid)) return false;
    } else if (key == "gid") {
      if (!number(&pending->gid)) return false;
    }
    // Other keywords (mtime, atime, uname, xattrs, ...) do not matter here.
  }
  return true;
}

// Strips leading "/" and "./" and a trailing "/" ("./" and "/" become "", the root).
std::string entryPath(std::string_view name) {
  name = normalized(name);
  while (name.ends_with("/")) name.remove_suffix(1);
  return std::string(name);
}

std::string at(size_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

void TarWriter::addDirectory(std::string_view path, uint32_t mode, uint32_t uid, uint32_t gid) {
  addEntry('5', path, {}, mode, uid, gid);
}

void TarWriter::addExtractionRoot(uint32_t mode, uint32_t uid, uint32_t gid) {
  addEntry('5', "/", {}, mode, uid, gid);
}

void TarWriter::addFile(std::string_view path, std::string_view content, uint32_t mode,
                        uint32_t uid, uint32_t gid) {
  addEntry('0', path, content, mode, uid, gid);
}

std::string TarWriter::finish() {
  data_.append(2 * kBlock, '\0');
  std::string out = std::move(data_);
  data_.clear();
  return out;
}

void TarWriter::addEntry(char type, std::string_view path, std::string_view content, uint32_t mode,
                         uint32_t uid, uint32_t gid) {
  std::string name(normalized(path));
  if (type == '5' && path == "/") {
    name = "/";  // addExtractionRoot(): kept as it is
  } else if (type == '5') {
    while (name.ends_with("/")) name.pop_back();
    name = name.empty() ? "./" : name + "/";
  }
  const uint64_t size = content.size();

  // What ustar cannot hold goes into a PAX header just before the entry.
  std::string pax;
  std::string_view prefix, rest;
  if (!splitUstar(name, &prefix, &rest)) {
    pax += paxRecord("path", name);
    // Readers without PAX support still see a name: the last part, cut to fit.
    rest = std::string_view(name).substr(name.size() - kNameLen);
    prefix = {};
  }
  if (uid > kMaxOctal7) pax += paxRecord("uid", std::to_string(uid));
  if (gid > kMaxOctal7) pax += paxRecord("gid", std::to_string(gid));
  if (size > kMaxOctal11) pax += paxRecord("size", std::to_string(size));

  // Fields too large for octal were put in the PAX header above; the header holds the cap.
  auto header = [this](char typeflag, std::string_view h_prefix, std::string_view h_name,
                       uint32_t h_mode, uint64_t h_uid, uint64_t h_gid, uint64_t h_size) {
    char h[kBlock] = {};
    putText(h + kNameOff, kNameLen, h_name);
    putOctal(h + kModeOff, kModeLen, h_mode & 07777);
    putOctal(h + kUidOff, kUidLen, std::min(h_uid, kMaxOctal7));
    putOctal(h + kGidOff, kGidLen, std::min(h_gid, kMaxOctal7));
    putOctal(h + kSizeOff, kSizeLen, std::min(h_size, kMaxOctal11));
    putOctal(h + kMtimeOff, kMtimeLen, 0);  // mtime 0: the same files give the same bytes
    h[kTypeOff] = typeflag;
    putText(h + kMagicOff, kMagicLen, kPosixMagic);
    putOctal(h + kDevMajorOff, kDevLen, 0);
    putOctal(h + kDevMinorOff, kDevLen, 0);
    putText(h + kPrefixOff, kPrefixLen, h_prefix);
    // Checksum: six octal digits, a NUL and a space, as GNU tar and Go write it.
    const uint64_t sum = headerSum(reinterpret_cast<const unsigned char*>(h));
    putOctal(h + kChksumOff, 7, sum);
    h[kChksumOff + 7] = ' ';
    data_.append(h, kBlock);
  };
  auto body = [this](std::string_view bytes) {
    data_.append(bytes);
    data_.append(padded(bytes.size()) - bytes.size(), '\0');
  };

  if (!pax.empty()) {
    std::string pax_name = "PaxHeaders/" + std::string(rest);
    if (pax_name.size() > kNameLen) pax_name.resize(kNameLen);
    header('x', {}, pax_name, 0644, 0, 0, pax.size());
    body(pax);
  }
  header(type, prefix, rest, mode, uid, gid, size);
  body(content);
}

bool readTar(std::string_view tar, size_t max_content_bytes, std::vector<TarEntry>* entries,
             std::string* error) {
  entries->clear();
  auto fail = [error](std::string message) {
    *error = std::move(message);
    return false;
  };
  Pending pending;
  size_t offset = 0;
  for (;;) {
    if (offset == tar.size()) {
      // No end-of-archive blocks: accepted (as GNU tar and Go do) unless a header is open.
      if (pending.any()) return fail("extended header without an entry" + at(offset));
      return true;
    }
    if (tar.size() - offset < kBlock) return fail("truncated header" + at(offset));
    const size_t header_offset = offset;
    const auto* h = reinterpret_cast<const unsigned char*>(tar.data() + offset);
    if (allZero(h)) {
      if (pending.any()) return fail("extended header without an entry" + at(offset));
      return true;  // end of archive; a lone zero block is accepted
    }
    const std::optional<uint64_t> chksum = parseNumber(h + kChksumOff, kChksumLen);
    if (!chksum) return fail("unparsable header checksum" + at(offset));
    if (*chksum != headerSum(h) && static_cast<int64_t>(*chksum) != signedHeaderSum(h))
      return fail("bad header checksum" + at(offset));

    const std::optional<uint64_t> header_size = parseNumber(h + kSizeOff, kSizeLen);
    const std::optional<uint64_t> mode = parseNumber(h + kModeOff, kModeLen);
    const std::optional<uint64_t> header_uid = parseNumber(h + kUidOff, kUidLen);
    const std::optional<uint64_t> header_gid = parseNumber(h + kGidOff, kGidLen);
    if (!header_size) return fail("unparsable size field" + at(offset));
    if (!mode || !header_uid || !header_gid)
      return fail("unparsable mode, uid or gid field" + at(offset));
    const char type = static_cast<char>(h[kTypeOff]);
    const bool meta = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    // PAX size overrides the header's; it never applies to the extended header itself.
    const uint64_t size = (!meta && pending.size) ? *pending.size : *header_size;
    // Go and GNU tar store no data after these types whatever size says.
    const bool header_only =
        type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6';
    const uint64_t stored = header_only ? 0 : size;
    const size_t data_offset = offset + kBlock;
    const size_t available = tar.size() - data_offset;
    if (stored > available || padded(stored) > available)
      return fail("truncated archive: an entry declares " + std::to_string(stored) + " bytes, " +
                  std::to_string(available) + " remain" + at(offset));
    const std::string_view data = tar.substr(data_offset, static_cast<size_t>(stored));
    offset = data_offset + padded(stored);

    if (type == 'x') {
      if (!parsePax(data, &pending)) return fail("malformed PAX record" + at(data_offset));
      continue;
    }
    if (type == 'g') continue;  // global defaults (git archive's comment): nothing we use
    if (type == 'L' || type == 'K') {
      std::string text(data.substr(0, data.find('\0')));
      (type == 'L' ? pending.path : pending.link_target) = std::move(text);
      continue;
    }

    TarEntry entry;
    if (pending.path) {
      entry.path = entryPath(*pending.path);
    } else {
      // The prefix field exists only in POSIX ustar; GNU's format keeps times there.
      const bool posix = std::memcmp(h + kMagicOff, kPosixMagic.data(), 6) == 0;
      const std::string_view prefix = posix ? textField(h + kPrefixOff, kPrefixLen) : "";
      std::string name(prefix);
      if (!name.empty()) name += '/';
      name += textField(h + kNameOff, kNameLen);
      entry.path = entryPath(name);
    }
    switch (type) {
      case '0':
      case '\0':
      case '7':
        entry.type = TarEntry::Type::kFile;
        break;
      case '5':
        entry.type = TarEntry::Type::kDirectory;
        break;
      case '2':
        entry.type = TarEntry::Type::kSymlink;
        break;
      default:
        entry.type = TarEntry::Type::kOther;
        break;
    }
    // An old-style (pre-ustar) directory is a regular file whose name ends in '/'.
    if (type == '\0' && !pending.path && textField(h + kNameOff, kNameLen).ends_with("/"))
      entry.type = TarEntry::Type::kDirectory;
    if (entry.type == TarEntry::Type::kSymlink) {
      entry.link_target = pending.link_target ? *pending.link_target
                                              : std::string(textField(h + kLinkOff, kLinkLen));
    }
    entry.mode = static_cast<uint32_t>(*mode & 07777);
    const uint64_t uid = pending.uid ? *pending.uid : *header_uid;
    const uint64_t gid = pending.gid ? *pending.gid : *header_gid;
    if (uid > std::numeric_limits<uint32_t>::max() || gid > std::numeric_limits<uint32_t>::max())
      return fail("uid or gid out of range" + at(header_offset));
    entry.uid = static_cast<uint32_t>(uid);
    entry.gid = static_cast<uint32_t>(gid);
    entry.size = size;
    if (entry.type == TarEntry::Type::kFile)
      entry.content = std::string(data.substr(0, std::min(data.size(), max_content_bytes)));
    entries->push_back(std::move(entry));
    pending = Pending{};
  }
}

}  // namespace wa::docker

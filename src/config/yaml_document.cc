#include "config/yaml_document.h"

#include <memory>

namespace wa::config {
namespace {

YamlMark toMark(const yaml_mark_t& mark) {
  return YamlMark{static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1};
}

// Owns an initialised yaml_parser_t.
struct ParserDeleter {
  void operator()(yaml_parser_t* parser) const {
    yaml_parser_delete(parser);
    delete parser;
  }
};
using ParserPtr = std::unique_ptr<yaml_parser_t, ParserDeleter>;

ParserPtr makeParser() {
  auto* parser = new yaml_parser_t;
  if (!yaml_parser_initialize(parser)) {
    // Only fails when out of memory; nothing was allocated that needs deleting.
    delete parser;
    return nullptr;
  }
  return ParserPtr(parser);
}

YamlDocument::ParseError parserError(const yaml_parser_t& parser) {
  YamlDocument::ParseError error;
  error.message = parser.problem != nullptr ? parser.problem : "invalid YAML";
  if (parser.context != nullptr) {
    error.message += " ";
    error.message += parser.context;
  }
  if (parser.error == YAML_READER_ERROR) {
    // Reader errors (bad encoding) carry a byte offset, not a line/column mark.
    error.message += " at byte offset " + std::to_string(parser.problem_offset);
  } else {
    error.mark = toMark(parser.problem_mark);
  }
  return error;
}

}  // namespace

YamlDocument::~YamlDocument() { reset(); }

void YamlDocument::reset() {
  if (loaded_) yaml_document_delete(&document_);
  loaded_ = false;
}

bool YamlDocument::parse(std::string_view text, ParseError* error) {
  reset();
  ParserPtr parser = makeParser();
  if (!parser) {
    *error = ParseError{"out of memory while creating the YAML parser", {}};
    return false;
  }
  // libyaml reads the buffer in place; text outlives the parser, which dies in this call.
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  // On failure yaml_parser_load frees whatever it had built, so document_ stays unowned.
  if (!yaml_parser_load(parser.get(), &document_)) {
    *error = parserError(*parser);
    return false;
  }
  loaded_ = true;

  // A second document would be silently ignored by a plain load; refuse it instead.
  yaml_document_t next{};
  if (!yaml_parser_load(parser.get(), &next)) {
    *error = parserError(*parser);
    reset();
    return false;
  }
  const bool has_second = yaml_document_get_root_node(&next) != nullptr;
  YamlMark second_mark = toMark(next.start_mark);
  yaml_document_delete(&next);
  if (has_second) {
    *error = ParseError{"only one YAML document is allowed", second_mark};
    reset();
    return false;
  }
  return true;
}

yaml_node_t* YamlDocument::root() {
  return loaded_ ? yaml_document_get_root_node(&document_) : nullptr;
}

yaml_node_t* YamlDocument::node(int index) {
  return loaded_ ? yaml_document_get_node(&document_, index) : nullptr;
}

YamlMark YamlDocument::markOf(const yaml_node_t& node) { return toMark(node.start_mark); }

}  // namespace wa::config

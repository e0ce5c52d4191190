// YamlDocument: one YAML document parsed by libyaml's document API, owned RAII-style.
// libyaml reports positions 0-based; everything this class hands out is 1-based.
#pragma once

#include <yaml.h>

#include <string>
#include <string_view>

namespace wa::config {

// A 1-based position in the parsed text.
struct YamlMark {
  int line = 0;
  int column = 0;
};

class YamlDocument {
 public:
  struct ParseError {
    std::string message;  // libyaml's problem text (and context), ready to show
    YamlMark mark;
  };

  YamlDocument() = default;
  ~YamlDocument();
  YamlDocument(const YamlDocument&) = delete;
  YamlDocument& operator=(const YamlDocument&) = delete;

  // Parses text, which must hold at most one document. Returns false and fills *error on
  // a syntax error or a second document; the object is then empty (root() is null).
  bool parse(std::string_view text, ParseError* error);

  // The root node, or null for an empty stream (nothing but comments and blank lines).
  yaml_node_t* root();
  // The node with that libyaml index (as found in sequence items and mapping pairs).
  yaml_node_t* node(int index);

  static YamlMark markOf(const yaml_node_t& node);

 private:
  void reset();

  yaml_document_t document_{};
  bool loaded_ = false;  // document_ must be deleted
};

}  // namespace wa::config

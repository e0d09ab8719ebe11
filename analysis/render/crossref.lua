--[[
crossref.lua: Quarto's numbered figures and tables, @fig-/@tbl- references and callouts, done
once in pandoc so that HTML and Typst get the same numbers and words.

Quarto semantics copied (Quarto 1.7 docs, "Cross References" and "Callout Blocks"):
  * a float is a figure whose id starts with "fig-" or a table whose id starts with "tbl-";
    floats are numbered per kind in document order and their caption reads "Figuur 1: ...";
  * "@fig-a" -> "Figuur 1" (linked), "-@fig-a" -> "1", "@Fig-a" as "@fig-a";
    an unknown id warns and shows "?@fig-a" in bold, as Quarto does;
  * ::: {.callout-warning title="..."} (or a first heading as title) -> a boxed note;
  * ::: {.content-visible when-format="html"} / .content-hidden / unless-format;
  * tbl-colwidths: false (per format, "krp-tbl-colwidths-<format>") -> no column widths, the
    browser or Typst sizes the columns (Quarto's default for HTML is "auto": widths kept).
The words come from the metadata "krp-words" that the Python side fills from the document's lang.
]]

local words = {}
local resource_path = nil
local numbers = {}          -- id -> { kind = "fig" | "tbl", n = 1 }
local counts = { fig = 0, tbl = 0 }
local warned = {}
local NBSP = "\u{00A0}"
local CALLOUTS = { note = true, tip = true, warning = true, important = true, caution = true }

local function is_html() return FORMAT:match("^html") ~= nil end
local function is_typst() return FORMAT == "typst" end

local drop_widths = false

local function read_meta(meta)
  for k, v in pairs(meta["krp-words"] or {}) do words[k] = pandoc.utils.stringify(v) end
  local colwidths = meta["krp-tbl-colwidths-" .. (is_html() and "html" or FORMAT)]
  drop_widths = colwidths == false
  if meta["krp-resource-path"] then resource_path = pandoc.utils.stringify(meta["krp-resource-path"]) end
end

local function float_kind(id)
  return id and (id:match("^(fig)%-") or id:match("^(tbl)%-")) or nil
end

local function title_word(kind)
  return words["crossref-" .. kind .. "-title"] or (kind == "fig" and "Figure" or "Table")
end

-- content-visible / content-hidden --------------------------------------------------------------

local function format_matches(name)
  if name == "html" then return is_html() end
  if name == "pdf" then return is_typst() or FORMAT == "latex" end
  return FORMAT == name
end

local function visibility(div)
  local visible, hidden = div.classes:includes("content-visible"), div.classes:includes("content-hidden")
  if not (visible or hidden) then return nil end
  local show = true
  if div.attributes["when-format"] then
    show = format_matches(div.attributes["when-format"])
  elseif div.attributes["unless-format"] then
    show = not format_matches(div.attributes["unless-format"])
  end
  if hidden then show = not show end
  return show and div.content or {}
end

-- numbering floats -------------------------------------------------------------------------------

local function number(id, kind)
  if numbers[id] then return nil end   -- seen already (returned elements are walked again)
  counts[kind] = counts[kind] + 1
  numbers[id] = { kind = kind, n = counts[kind] }
  return numbers[id].n
end

-- "Figuur 1: " in front of the caption's first paragraph
local function with_prefix(blocks, kind, n)
  blocks = pandoc.Blocks(blocks or {})
  local prefix = pandoc.Inlines { pandoc.Str(title_word(kind) .. NBSP .. n .. ":") }
  if #blocks > 0 and (blocks[1].t == "Para" or blocks[1].t == "Plain") then
    prefix:insert(pandoc.Space())
    prefix:extend(blocks[1].content)
    blocks[1] = pandoc.Plain(prefix)
  else
    blocks:insert(1, pandoc.Plain(prefix))
  end
  return blocks
end

-- the .krp-caption div (written by the renderer), else Quarto's rule for a #fig- div: last paragraph
local function take_caption(div, kind)
  local caption, rest = nil, pandoc.Blocks {}
  for _, b in ipairs(div.content) do
    if not caption and b.t == "Div" and b.classes:includes("krp-caption") then
      caption = b.content
    else
      rest:insert(b)
    end
  end
  if not caption and kind == "fig" and #rest > 1 and rest[#rest].t == "Para" then
    caption = pandoc.Blocks { rest[#rest] }
    rest:remove(#rest)
  end
  return caption, rest
end

local function first_table(blocks)
  for i, b in ipairs(blocks) do
    if b.t == "Table" then return i end
  end
  return nil
end

local function figure_div(div, id, caption, rest)
  local n = id and number(id, "fig")
  local content = rest:walk { Para = function(p) return pandoc.Plain(p.content) end }
  local cap = n and with_prefix(caption, "fig", n) or pandoc.Blocks(caption or {})
  return pandoc.Figure(content, { long = cap }, pandoc.Attr(id or "", { "quarto-float" })), false
end

local function table_div(div, id, caption, rest)
  local n = id and number(id, "tbl")
  local cap = n and with_prefix(caption, "tbl", n) or pandoc.Blocks(caption or {})
  local i = first_table(rest)
  if i then
    rest[i].identifier = id or rest[i].identifier
    rest[i].caption = { long = cap }
    return rest, false
  end
  -- no pandoc table (e.g. raw HTML): caption paragraph above the content, as Quarto places it
  local out = pandoc.Blocks { pandoc.Div(cap, pandoc.Attr("", { "krp-float-caption" })) }
  out:extend(rest)
  return pandoc.Div(out, pandoc.Attr(id or "", { "quarto-float" })), false
end

local function float_div(div)
  local kind = float_kind(div.identifier)
  local id = kind and div.identifier or nil
  if not kind then
    if div.classes:includes("krp-unnumbered-fig") then kind = "fig"
    elseif div.classes:includes("krp-unnumbered-tbl") then kind = "tbl"
    else return nil end
  end
  local caption, rest = take_caption(div, kind)
  if kind == "fig" then return figure_div(div, id, caption, rest) end
  return table_div(div, id, caption, rest)
end

local function number_figure(fig)   -- a markdown figure: ![caption](file){#fig-a}
  local kind = float_kind(fig.identifier)
  if kind ~= "fig" then return nil end
  local n = number(fig.identifier, "fig")
  if n then fig.caption = { long = with_prefix(fig.caption.long, "fig", n) } end
  return fig
end

local function number_table(tbl)    -- a markdown table with ": caption {#tbl-a}"
  local kind = float_kind(tbl.identifier)
  if kind ~= "tbl" then return nil end
  local n = number(tbl.identifier, "tbl")
  if n then tbl.caption = { long = with_prefix(tbl.caption.long, "tbl", n) } end
  return tbl
end

local function number_floats(doc)
  doc.blocks = doc.blocks:walk {
    traverse = "topdown",
    Div = float_div,
    Figure = number_figure,
    Table = number_table,
  }
  return doc
end

-- references -------------------------------------------------------------------------------------

local function ref_key(id)
  return (id:gsub("^(%u)", string.lower))   -- @Fig-a: Quarto's capitalised form
end

local function resolve(cite)
  for _, c in ipairs(cite.citations) do
    if not float_kind(ref_key(c.id)) then return nil end   -- a literature citation: for citeproc
  end
  local out = pandoc.Inlines {}
  for i, c in ipairs(cite.citations) do
    if i > 1 then out:extend { pandoc.Str(","), pandoc.Space() } end
    if #c.prefix > 0 then out:extend(c.prefix); out:insert(pandoc.Space()) end
    local key = ref_key(c.id)
    local ref = numbers[key]
    if ref then
      local text = c.mode == "SuppressAuthor" and tostring(ref.n) or (title_word(ref.kind) .. NBSP .. ref.n)
      out:insert(pandoc.Link({ pandoc.Str(text) }, "#" .. key))
    else
      if not warned[key] then
        warned[key] = true
        pandoc.log.warn("Unable to resolve crossref @" .. c.id)
      end
      out:insert(pandoc.Strong { pandoc.Str("?@" .. c.id) })
    end
    if #c.suffix > 0 then out:extend(c.suffix) end
  end
  return out
end

-- callouts ---------------------------------------------------------------------------------------

local function callout_kind(div)
  for _, cl in ipairs(div.classes) do
    local k = cl:match("^callout%-(%a+)$")
    if k and CALLOUTS[k] then return k end
  end
  return nil
end

local function callout(div)
  local kind = callout_kind(div)
  if not kind then return nil end
  local content = pandoc.Blocks(div.content)
  local title
  if div.attributes.title then
    local parsed = pandoc.read(div.attributes.title, "markdown").blocks
    title = #parsed > 0 and parsed[1].content or pandoc.Inlines {}
  elseif #content > 0 and content[1].t == "Header" then
    title = content[1].content
    content:remove(1)
  else
    title = pandoc.Inlines { pandoc.Str(words["callout-" .. kind .. "-title"] or kind) }
  end
  if is_typst() then
    local t = pandoc.write(pandoc.Pandoc { pandoc.Plain(title) }, "typst"):gsub("%s+$", "")
    local out = pandoc.Blocks {
      pandoc.RawBlock("typst", '#krp-callout(kind: "' .. kind .. '", title: [' .. t .. '])['),
    }
    out:extend(content)
    out:insert(pandoc.RawBlock("typst", "]"))
    return out
  end
  local attr = pandoc.Attr(div.identifier, { "callout", "callout-" .. kind }, { role = "note" })
  return pandoc.Div({
    pandoc.Div(pandoc.Plain(title), pandoc.Attr("", { "callout-title" })),
    pandoc.Div(content, pandoc.Attr("", { "callout-body" })),
  }, attr)
end

-- Typst writes every Div as #block[...], which shrinks to its content and so pushes centred
-- figures and tables to the left margin; cell wrappers only matter for HTML, so drop them there.
local function unwrap_cell(div)
  if is_typst() and div.identifier == "" and (div.classes:includes("cell") or #div.classes == 0) then
    return div.content
  end
  return nil
end

-- tbl-colwidths: false, as Quarto's tablecolwidths.lua: every column width back to the default
local function colwidths(tbl)
  if not drop_widths then return nil end
  for i, spec in ipairs(tbl.colspecs) do tbl.colspecs[i] = { spec[1], pandoc.ColWidthDefault } end
  return tbl
end

-- images written next to the .qmd: Typst resolves paths from its own root, so make them absolute
local function image_path(img)
  if not (is_typst() and resource_path) then return nil end
  if img.src:match("^%a[%w+.-]*:") or not pandoc.path.is_relative(img.src) then return nil end
  local candidate = pandoc.path.join { resource_path, img.src }
  local fh = io.open(candidate, "r")
  if fh then fh:close(); img.src = candidate; return img end
  return nil
end

return {
  { Meta = read_meta },
  { Div = visibility },
  { Pandoc = number_floats },
  { Cite = resolve, Div = callout, Image = image_path, Table = colwidths },
  { Div = unwrap_cell },
}

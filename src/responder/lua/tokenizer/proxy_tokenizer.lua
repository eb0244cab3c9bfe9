-- understudy's `proxy.tokenizer`: the helpers MySQL Proxy 0.8.5 scripts
-- `require("proxy.tokenizer")` for, on top of `mysql.tokenizer`.
--
-- Written for understudy; what each helper returns follows MySQL Proxy's
-- module, odd corners included, since scripts compare and print the results:
-- comments are `TK_COMMENT` only (a `/*!...*/` is kept), strings are quoted
-- with string.format("%q"), and a token list may also be a list of plain
-- strings (indexing a string for `token_name` gives nil, so it counts as text).

local lexer = require("mysql.tokenizer")

local format, upper, sub, concat = string.format, string.upper, string.sub, table.concat

local M = {
	_DESCRIPTION = "proxy.tokenizer helpers (understudy)",
}

-- Words that open a statement although the tokenizer has no keyword for
-- them: upper-cased, not back-quoted, by `normalize` when they come first.
local OPENING_WORDS = { COMMIT = true, ROLLBACK = true, BEGIN = true, START = true }

--- The token list of `query` (mysql.tokenizer's `tokenize`).
function M.tokenize(query)
	return lexer.tokenize(query)
end

--- A query's shape, for grouping queries that differ only in values:
-- keywords and operators upper-cased, names back-quoted, numbers and
-- strings replaced by `?`, comments dropped but `/*!...*/` kept; every piece
-- but a function name is followed by one space.
function M.normalize(tokens)
	local out, n = {}, 0
	for i = 1, #tokens do
		local tok = tokens[i]
		local name, text = tok.token_name, tok.text
		local piece
		if name == "TK_COMMENT" then
			piece = nil
		elseif name == "TK_COMMENT_MYSQL" then
			piece = "/*!" .. text .. "*/ "
		elseif name == "TK_LITERAL" then
			local word = upper(text)
			if sub(text, 1, 1) == "@" then
				piece = text .. " "
			elseif n == 0 and OPENING_WORDS[word] then
				piece = word .. " "
			elseif n == 1 and sub(out[1], 1, -2) == "START" and word == "TRANSACTION" then
				-- (the first piece less its last byte, as MySQL Proxy compares)
				piece = word .. " "
			else
				piece = "`" .. text .. "` "
			end
		elseif name == "TK_STRING" or name == "TK_INTEGER" or name == "TK_FLOAT" then
			piece = "? "
		elseif name == "TK_FUNCTION" then
			piece = upper(text)
		else
			piece = upper(text) .. " "
		end
		if piece then
			n = n + 1
			out[n] = piece
		end
	end
	return concat(out)
end

--- The first token that is not a `TK_COMMENT` (nil if there is none).
function M.first_stmt_token(tokens)
	for i = 1, #tokens do
		local tok = tokens[i]
		if tok.token_name ~= "TK_COMMENT" then
			return tok
		end
	end
	return nil
end

--- The texts of the tokens that are not `TK_COMMENT`s; with `quote_strings`,
-- strings are given %q-quoted.
function M.bare_tokens(tokens, quote_strings)
	local out, n = {}, 0
	for i = 1, #tokens do
		local tok = tokens[i]
		local name, value = tok.token_name, tok.text
		if name == "TK_STRING" and quote_strings then
			value = format("%q", value)
		elseif name == "TK_COMMENT" then
			value = nil
		end
		if value ~= nil then
			n = n + 1
			out[n] = value
		end
	end
	return out
end

--- The texts of the tokens that are not `TK_COMMENT`s (a list of strings).
function M.tokens_without_comments(tokens)
	local out, n = {}, 0
	for i = 1, #tokens do
		local tok = tokens[i]
		if tok.token_name ~= "TK_COMMENT" then
			local value = tok.text
			if value ~= nil then
				n = n + 1
				out[n] = value
			end
		end
	end
	return out
end

--- A query text rebuilt from tokens `first` to `last` (default: all), without
-- comments: strings %q-quoted, a space after every token but a function name.
function M.tokens_to_query(tokens, first, last)
	first = first or 1
	last = last or #tokens
	local out, n = {}, 0
	for i = 1, #tokens do
		if i >= first and i <= last then
			local tok = tokens[i]
			local name = tok.token_name
			if name == "TK_STRING" then
				n = n + 1
				out[n] = format("%q", tok.text)
			elseif name ~= "TK_COMMENT" then
				n = n + 1
				out[n] = tok.text
			end
			if name ~= "TK_FUNCTION" and name ~= "TK_COMMENT" then
				n = n + 1
				out[n] = " "
			end
		end
	end
	return concat(out)
end

return M

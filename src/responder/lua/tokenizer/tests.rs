//! Token streams the tokenizer must produce, written as `NAME text` pairs.

use super::*;

/// `(name, text)` of every token of `q`.
fn toks(q: &str) -> Vec<(&'static str, String)> {
    tokenize(q.as_bytes())
        .iter()
        .map(|t| (t.name(), String::from_utf8_lossy(&t.text).into_owned()))
        .collect()
}

/// Compares with a spec of `NAME:text` items separated by `~` (names without `TK_`).
fn check(q: &str, spec: &str) {
    let want: Vec<(String, String)> = if spec.is_empty() {
        Vec::new()
    } else {
        spec.split('~')
            .map(|item| {
                let (name, text) = item.split_once(':').expect("NAME:text");
                (format!("TK_{name}"), text.to_string())
            })
            .collect()
    };
    let got: Vec<(String, String)> = toks(q)
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    assert_eq!(got, want, "tokens of {q:?}");
}

#[test]
fn simple_statements() {
    check("select 1", "SQL_SELECT:select~INTEGER:1");
    check(
        "select count(*) from mysql.user",
        "SQL_SELECT:select~FUNCTION:count~OBRACE:(~STAR:*~CBRACE:)~SQL_FROM:from~\
         LITERAL:mysql~DOT:.~LITERAL:user",
    );
    check(
        "create table t1 (id int) engine = myisam",
        "SQL_CREATE:create~SQL_TABLE:table~LITERAL:t1~OBRACE:(~LITERAL:id~SQL_INT:int~\
         CBRACE:)~LITERAL:engine~EQ:=~LITERAL:myisam",
    );
    check("", "");
    check("  \t\r\n ", "");
}

#[test]
fn ids_are_the_ones_scripts_print() {
    let t = tokenize(b"select /*!50000 1 + */ 1");
    let ids: Vec<u16> = t.iter().map(|t| t.id.0).collect();
    assert_eq!(ids, [204, 261, 11]);
}

#[test]
fn comments() {
    check(
        "/* comment */select /*! 1 */;",
        "COMMENT: comment ~SQL_SELECT:select~COMMENT_MYSQL: 1 ~SEMICOLON:;",
    );
    check(
        "select /*!50000 1 + */ 1",
        "SQL_SELECT:select~COMMENT_MYSQL:50000 1 + ~INTEGER:1",
    );
    check("/*x***/1", "COMMENT:x~INTEGER:1");
    check("/***/", "COMMENT:");
    check("/**x*/", "COMMENT:*x");
    check("/* a *b/ */", "COMMENT: a *b/ ");
    check("/* open", "COMMENT: open");
    check("/*/", "COMMENT:/");
    check("-- line\nselect", "COMMENT:line~SQL_SELECT:select");
    check("--  two\r\n1", "COMMENT: two\r~INTEGER:1");
    check("--\t", "COMMENT:");
    check("-- \r\n1", "COMMENT:~INTEGER:1");
    check("--\nSELECT 1\n", "COMMENT:~SQL_SELECT:SELECT~INTEGER:1");
    check("--\r\n1", "COMMENT:~INTEGER:1");
    check("1--1", "INTEGER:1~MINUS:-~MINUS:-~INTEGER:1");
    check("--", "MINUS:-~MINUS:-");
    // MySQL Proxy's tokenizer knows no `#` comments.
    check("# x", "UNKNOWN:#~LITERAL:x");
}

#[test]
fn quoted_strings_and_names() {
    check("'mysql'", "STRING:mysql");
    check("\"a\"", "STRING:a");
    check("`b`", "LITERAL:b");
    check("`ABC``FOO`", "LITERAL:ABC`FOO");
    check("'it''s'", "STRING:it's");
    check("\"say \"\"hi\"\"\"", "STRING:say \"hi\"");
    check("'it\\'s'", "STRING:it\\'s");
    check("'a\\\\'", "STRING:a\\\\");
    check("\"it's\"", "STRING:it's");
    check("'\"'", "STRING:\"");
    check("'open", "STRING:open");
    check("''", "STRING:");
    check("'a',\"b\"", "STRING:a~COMMA:,~STRING:b");
    // MySQL Proxy's pairwise look at quotes: "'` is taken as a pair.
    check(
        "\"'\"`qq-mixed''\" FROM",
        "STRING:'\"`qq-mixed''~SQL_FROM:FROM",
    );
    check("'a'\"b\"", "STRING:a'\"b\"");
    check("'a\\\nb'", "STRING:a\nb");
    check("'a\\", "STRING:a");
    // Not a keyword when quoted.
    check("`select`", "LITERAL:select");
}

#[test]
fn collapsed_quotes_allocate_only_then() {
    let t = tokenize(b"'plain' 'dou''ble'");
    assert!(matches!(t[0].text, Cow::Borrowed(b"plain")));
    assert!(matches!(t[1].text, Cow::Owned(_)));
    assert_eq!(&t[1].text[..], b"dou'ble");
}

#[test]
fn numbers_and_words() {
    check("1.1", "FLOAT:1.1");
    check(".5", "FLOAT:.5");
    check("1e1", "FLOAT:1e1");
    check("1e+1", "FLOAT:1e+1");
    check("1.5E-3", "FLOAT:1.5E-3");
    check(".1e5", "FLOAT:.1e5");
    check("1e", "LITERAL:1e");
    check("e1", "LITERAL:e1");
    check("1e5x", "LITERAL:1e5x");
    check("1e + 1", "LITERAL:1e~PLUS:+~INTEGER:1");
    check("1e+1e", "FLOAT:1e+1~LITERAL:e");
    check("1.1e", "FLOAT:1.1~LITERAL:e");
    check(".1t", "FLOAT:.1~LITERAL:t");
    check("t1.1t", "LITERAL:t1~DOT:.~LITERAL:1t");
    check("e1.1e + 1", "LITERAL:e1~DOT:.~LITERAL:1e~PLUS:+~INTEGER:1");
    check("e1 . 1e+1", "LITERAL:e1~DOT:.~FLOAT:1e+1");
    check("e1.1e+1", "LITERAL:e1~DOT:.~LITERAL:1e~PLUS:+~INTEGER:1");
    check("t.1", "LITERAL:t~FLOAT:.1");
    check("1.", "INTEGER:1~DOT:.");
    check("123abc", "LITERAL:123abc");
    check(
        "a.b.c.d",
        "LITERAL:a~DOT:.~LITERAL:b~DOT:.~LITERAL:c~DOT:.~LITERAL:d",
    );
    check("SeLeCt __t", "SQL_SELECT:SeLeCt~LITERAL:__t");
    check("db.select", "LITERAL:db~DOT:.~SQL_SELECT:select");
}

#[test]
fn functions() {
    check(
        "CALL foo.bar(foo)",
        "SQL_CALL:CALL~LITERAL:foo~DOT:.~FUNCTION:bar~OBRACE:(~LITERAL:foo~CBRACE:)",
    );
    check("IF(1)", "FUNCTION:IF~OBRACE:(~INTEGER:1~CBRACE:)");
    check("in (1)", "SQL_IN:in~OBRACE:(~INTEGER:1~CBRACE:)");
    check("1e5(", "FUNCTION:1e5~OBRACE:(");
}

#[test]
fn variables_and_operators() {
    check(
        "SELECT @i := 1",
        "SQL_SELECT:SELECT~LITERAL:@i~ASSIGN::=~INTEGER:1",
    );
    check(
        "@@session.sql_mode",
        "LITERAL:@@session~DOT:.~LITERAL:sql_mode",
    );
    check(
        "< > <= >= = <> != && || & | ^ ; , + - * /",
        "LT:<~GT:>~LE:<=~GE:>=~EQ:=~NE:<>~NE:!=~LOGICAL_AND:&&~LOGICAL_OR:||~\
         BITWISE_AND:&~BITWISE_OR:|~BITWISE_XOR:^~SEMICOLON:;~COMMA:,~PLUS:+~MINUS:-~STAR:*~DIV:/",
    );
    check("! : ?", "UNKNOWN:!~UNKNOWN::~UNKNOWN:?");
}

#[test]
fn non_ascii_bytes_are_unknown_one_by_one() {
    let t = tokenize("é".as_bytes());
    assert_eq!(t.len(), 2);
    assert!(t
        .iter()
        .all(|t| t.id == TokenId::UNKNOWN && t.text.len() == 1));
}

#[test]
fn multi_statement_text() {
    check(
        "select 1; select 'a'",
        "SQL_SELECT:select~INTEGER:1~SEMICOLON:;~SQL_SELECT:select~STRING:a",
    );
}

/// Issue 8: the tokens a client's query makes for a script are bounded: past
/// the cap the lexer stops (no table per token for gigabytes of them).
#[test]
fn r8_tokenizing_stops_at_the_cap() {
    let q = "1,".repeat(1_000_000);
    assert!(super::tokenize_at_most(q.as_bytes(), 1000).is_none());
    let small = super::tokenize_at_most(b"SELECT 1", 1000).expect("under the cap");
    assert_eq!(small.len(), 2);
    assert_eq!(
        super::tokenize_at_most(b"a b c", 3).map(|t| t.len()),
        Some(3)
    );
}

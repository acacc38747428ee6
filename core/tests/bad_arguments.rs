//! Every bad ClusterDial argument gets one exact, clear error.

use res_cluster_core::args::{parse, ArgError};

#[test]
fn each_bad_argument_has_its_exact_error() {
    let long = "1".repeat(80);
    let cases: Vec<(&str, String)> = vec![
        ("", "no extension given".into()),
        (",20", "no extension given".into()),
        (",,rt", "no extension given".into()),
        ("101&PJSIP/102", "extension has '&' at position 4; only letters, digits and + * # . - _ are dialled".into()),
        ("101@cluster-node2", "extension has '@' at position 4; only letters, digits and + * # . - _ are dialled".into()),
        ("101/sip:102@127.0.20.102", "extension has '/' at position 4; only letters, digits and + * # . - _ are dialled".into()),
        ("1(2", "extension has '(' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1)2", "extension has ')' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1^2", "extension has '^' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1|2", "extension has '|' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("${EXTEN}", "extension has '$' at position 1; only letters, digits and + * # . - _ are dialled".into()),
        ("1{2", "extension has '{' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1}2", "extension has '}' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("[101]", "extension has '[' at position 1; only letters, digits and + * # . - _ are dialled".into()),
        ("10]", "extension has ']' at position 3; only letters, digits and + * # . - _ are dialled".into()),
        ("\"101\"", "extension has '\"' at position 1; only letters, digits and + * # . - _ are dialled".into()),
        ("'101'", "extension has ''' at position 1; only letters, digits and + * # . - _ are dialled".into()),
        (" 101", "extension has the character U+0020 at position 1; only letters, digits and + * # . - _ are dialled".into()),
        ("101 ", "extension has the character U+0020 at position 4; only letters, digits and + * # . - _ are dialled".into()),
        ("1\t1", "extension has the character U+0009 at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1\n1", "extension has the character U+000A at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1\r1", "extension has the character U+000D at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1\u{0}1", "extension has the character U+0000 at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1\u{7f}1", "extension has the character U+007F at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("1;2", "extension has ';' at position 2; only letters, digits and + * # . - _ are dialled".into()),
        ("sip:101", "extension has ':' at position 4; only letters, digits and + * # . - _ are dialled".into()),
        ("10\u{e9}", "extension has 'é' at position 3; only letters, digits and + * # . - _ are dialled".into()),
        (&long, "extension is 80 characters long; Asterisk's limit is 79".into()),
        ("101,abc", "timeout 'abc' is not a number of seconds".into()),
        ("101,0", "timeout '0' is too short; the least is 0.001 s".into()),
        ("101,-5", "timeout '-5' is not a number of seconds".into()),
        ("101,1e3", "timeout '1e3' is not a number of seconds".into()),
        ("101,1.2345", "timeout '1.2345' has more than three decimals".into()),
        ("101,86401", "timeout '86401' is longer than one day".into()),
        ("101,20,r(", "options: option 'r': '(' at position 2 is never closed".into()),
        ("101,20,r t", "options: ' ' at position 2 is not a Dial option letter".into()),
        ("101,20,r,t", "options: ',' at position 2 is not a Dial option letter".into()),
        ("101,20,)", "options: ')' at position 1 is not a Dial option letter".into()),
        ("101,20,5", "options: '5' at position 1 is not a Dial option letter".into()),
    ];
    assert!(cases.len() >= 30);
    for (data, expected) in &cases {
        let err: ArgError = parse(data).expect_err(data);
        assert_eq!(&err.to_string(), expected, "for {data:?}");
    }
}

#[test]
fn good_arguments_around_the_edges_pass() {
    for data in ["1", "+4930*#", "a.b-c_d", &"9".repeat(79), "101,0.001", "101,86400", "101,,", "101, 20 , rt "] {
        assert!(parse(data).is_ok(), "{data:?}");
    }
}

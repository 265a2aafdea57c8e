using System.Text.Json;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>Secrets are removed from everything the runner returns or logs; the text around them stays.</summary>
public sealed class RedactorTests
{
    private const string HostileKey = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    /// <summary>codex-0.169-exec-hostile-commands.jsonl, item_1.</summary>
    private const string HostileAgentMessage = """{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 is my key"}}""";

    /// <summary>codex-0.169-exec-hostile-commands.jsonl, item_0 completed.</summary>
    private const string HostileCommand = """{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc \"mkdir -p secrets && echo x > secrets/leak.txt && echo y > .hidden && ln -s /etc/passwd src/pw && git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; git config --worktree core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; echo done\"","aggregated_output":"done\n","exit_code":0,"status":"completed"}}""";

    private const string PemBody = "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7Mhgwabc\nq5e2sQ7mNZ1x8YVbbcQbK9w+Z1pT0FhB2kLm3sj4rqT8xRzq1D0Vv=";

    private static readonly Redactor Known = new([new KeyValuePair<string, string>("CODEX_API_KEY", "literal-value-123")]);

    public static TheoryData<string, string> Secrets => new()
    {
        { "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 is my key", "[REDACTED] is my key" },
        { "key: sk-abcdefghijklmnopqrstuvwx0123", "key: [REDACTED]" },
        { "OPENAI_KEY is sk-svcacct-abcdefghijklmnopqrstuvwx_0123-45.", "OPENAI_KEY is [REDACTED]." },
        { "(sk-admin-abcdefghijklmnopqrstuvwx0123)", "([REDACTED])" },
        { "Authorization: Bearer abc.def-ghi_123", "Authorization: Bearer [REDACTED]" },
        { "authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo", "authorization: bearer [REDACTED]" },
        { "curl -H 'Authorization: Bearer abcdef123456' https://x", "curl -H 'Authorization: Bearer [REDACTED]' https://x" },
        { "token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 used", "token [REDACTED] used" },
        { "gho_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "[REDACTED]" },
        { "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrst end", "pat [REDACTED] end" },
        { "aws AKIAIOSFODNN7EXAMPLE ok", "aws [REDACTED] ok" },
        { "ASIAIOSFODNN7EXAMPLE", "[REDACTED]" },
        { "API_KEY=abc123", "API_KEY=[REDACTED]" },
        { "export API_KEY=abc123 && npm test", "export API_KEY=[REDACTED] && npm test" },
        { "api_key=abc123", "api_key=[REDACTED]" },
        { "my_token = xyz", "my_token = [REDACTED]" },
        { "password=hunter2", "password=[REDACTED]" },
        { "Secret=s3cr3t", "Secret=[REDACTED]" },
        { "DB_PASSWD=pa55;echo ok", "DB_PASSWD=[REDACTED];echo ok" },
        { "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY=[REDACTED]" },
        { "a=1 GITHUB_TOKEN=xyz b=2", "a=1 GITHUB_TOKEN=[REDACTED] b=2" },
        { """{"api_key": "abc"}""", """{"api_key": "[REDACTED]"}""" },
        { """{"password":"hunter2","user":"bob"}""", """{"password":"[REDACTED]","user":"bob"}""" },
        { """{"githubToken" : "xyz"}""", """{"githubToken" : "[REDACTED]"}""" },
        { """{"client_secret":"xyz"}""", """{"client_secret":"[REDACTED]"}""" },
        { """{"text":"{\"api_key\": \"abc\"}"}""", """{"text":"{\"api_key\": \"[REDACTED]\"}"}""" },
        { "\\\"api_key\\\": \\\"abc\\\"", "\\\"api_key\\\": \\\"[REDACTED]\\\"" },
        { "before\n-----BEGIN RSA PRIVATE KEY-----\n" + PemBody + "\n-----END RSA PRIVATE KEY-----\nafter", "before\n[REDACTED]\nafter" },
        { "-----BEGIN PRIVATE KEY-----\n" + PemBody + "\n-----END PRIVATE KEY-----", "[REDACTED]" },
        { "-----BEGIN OPENSSH PRIVATE KEY-----\n" + PemBody + "\n-----END OPENSSH PRIVATE KEY-----", "[REDACTED]" },
        { "-----BEGIN EC PRIVATE KEY-----\r\n" + PemBody + "\r\n-----END EC PRIVATE KEY-----", "[REDACTED]" },
        { """{"text":"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\nq5e2sQ7mNZ1x8YVbbcQb=\n-----END RSA PRIVATE KEY-----\n"}""", """{"text":"[REDACTED]\n"}""" },
    };

    public static TheoryData<string> Harmless => new()
    {
        "git status",
        "npm test",
        "the key to success",
        "my key is short",
        "monkey business",
        "keyboard=us",
        "hash=abc123",
        "the password is required",
        "token: none",
        "sk-short",
        "Bearer abc",
        "AKIA1234",
        "ls -la ~/.ssh",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        """{"type":"turn.completed","usage":{"input_tokens":30,"cached_input_tokens":0,"output_tokens":10}}""",
        "",
    };

    [Theory]
    [MemberData(nameof(Secrets))]
    public void Secret_is_replaced_by_the_mask_and_the_text_around_it_stays(string text, string redacted)
    {
        Assert.Equal(redacted, Redactor.None.Redact(text));
    }

    [Theory]
    [MemberData(nameof(Secrets))]
    public void Redacting_twice_is_redacting_once(string text, string redacted)
    {
        Assert.Equal(Redactor.None.Redact(text), Redactor.None.Redact(Redactor.None.Redact(text)));
        Assert.Equal(redacted, Redactor.None.Redact(redacted));
    }

    [Fact]
    public void The_hostile_fixture_key_is_gone()
    {
        Assert.DoesNotContain(HostileKey, Redactor.None.Redact($"{HostileKey} is my key"), StringComparison.Ordinal);
    }

    [Fact]
    public void Private_key_body_is_gone()
    {
        var redacted = Redactor.None.Redact("-----BEGIN RSA PRIVATE KEY-----\n" + PemBody + "\n-----END RSA PRIVATE KEY-----");

        Assert.DoesNotContain("MIIEpAIBAAKCAQEA", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_private_keys_are_both_redacted_and_the_text_between_them_stays()
    {
        var key = "-----BEGIN PRIVATE KEY-----\n" + PemBody + "\n-----END PRIVATE KEY-----";

        Assert.Equal("[REDACTED]\nbetween\n[REDACTED]", Redactor.None.Redact(key + "\nbetween\n" + key));
    }

    [Theory]
    [MemberData(nameof(Harmless))]
    public void Text_without_secrets_is_unchanged(string text)
    {
        Assert.Equal(text, Redactor.None.Redact(text));
    }

    [Fact]
    public void Null_text_stays_null()
    {
        Assert.Null(Redactor.None.Redact(null!));
    }

    [Theory]
    [InlineData(HostileAgentMessage)]
    [InlineData(HostileCommand)]
    [InlineData("""{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc 'export API_KEY=abc123; curl -H \"Authorization: Bearer abcdef123456\" x'","aggregated_output":"{\"password\": \"hunter2\"}\nAKIAIOSFODNN7EXAMPLE\n","exit_code":0,"status":"completed"}}""")]
    [InlineData("""{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----\nghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 TOKEN=\\x"}}""")]
    public void A_redacted_jsonl_line_is_still_json_with_the_same_fields(string line)
    {
        var redacted = Redactor.None.Redact(line);

        using var before = JsonDocument.Parse(line);
        using var after = JsonDocument.Parse(redacted);
        Assert.Equal(
            before.RootElement.GetProperty("item").EnumerateObject().Select(p => p.Name),
            after.RootElement.GetProperty("item").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void The_hostile_fixture_agent_message_keeps_its_text_without_the_key()
    {
        using var json = JsonDocument.Parse(Redactor.None.Redact(HostileAgentMessage));

        Assert.Equal("[REDACTED] is my key", json.RootElement.GetProperty("item").GetProperty("text").GetString());
    }

    [Fact]
    public void The_hostile_fixture_command_line_has_nothing_to_redact()
    {
        Assert.Equal(HostileCommand, Redactor.None.Redact(HostileCommand));
    }

    [Theory]
    [InlineData("echo literal-value-123 done", "echo [REDACTED] done")]
    [InlineData("literal-value-123", "[REDACTED]")]
    [InlineData("xliteral-value-123x", "x[REDACTED]x")]
    [InlineData("literal-value-123literal-value-123", "[REDACTED][REDACTED]")]
    [InlineData("""{"text":"literal-value-123"}""", """{"text":"[REDACTED]"}""")]
    [InlineData("LITERAL-VALUE-123", "LITERAL-VALUE-123")]
    [InlineData("literal-value-12", "literal-value-12")]
    public void A_known_value_is_masked_wherever_it_appears(string text, string redacted)
    {
        Assert.Equal(redacted, Known.Redact(text));
    }

    [Fact]
    public void A_known_value_shorter_than_six_characters_is_not_masked()
    {
        var redactor = new Redactor([new KeyValuePair<string, string>("FLAG", "12345")]);

        Assert.Equal("id 12345", redactor.Redact("id 12345"));
    }

    [Fact]
    public void A_known_value_of_six_characters_is_masked()
    {
        var redactor = new Redactor([new KeyValuePair<string, string>("PIN", "123456")]);

        Assert.Equal("id [REDACTED]", redactor.Redact("id 123456"));
    }

    [Fact]
    public void The_longer_of_overlapping_known_values_is_masked_whole()
    {
        var redactor = new Redactor(
        [
            new KeyValuePair<string, string>("SHORT", "abcdef"),
            new KeyValuePair<string, string>("LONG", "abcdefghij"),
        ]);

        Assert.Equal("x [REDACTED] y", redactor.Redact("x abcdefghij y"));
    }

    [Fact]
    public void Two_names_with_the_same_value_are_fine()
    {
        var redactor = new Redactor(
        [
            new KeyValuePair<string, string>("A", "same-value"),
            new KeyValuePair<string, string>("B", "same-value"),
        ]);

        Assert.Equal("[REDACTED]", redactor.Redact("same-value"));
    }

    [Fact]
    public void Redacting_a_known_value_twice_is_redacting_once()
    {
        var once = Known.Redact("a literal-value-123 b API_KEY=literal-value-123");

        Assert.Equal(once, Known.Redact(once));
    }

    [Theory]
    [InlineData("the value is literal-value-123.")]
    [InlineData("literal-value-123")]
    [InlineData("+literal-value-123+")]
    public void Find_known_secret_names_the_variable_whose_value_the_text_holds(string text)
    {
        Assert.Equal("CODEX_API_KEY", Known.FindKnownSecret(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("literal-value-12")]
    [InlineData("CODEX_API_KEY")]
    [InlineData("LITERAL-VALUE-123")]
    public void Find_known_secret_is_null_when_no_value_is_there(string text)
    {
        Assert.Null(Known.FindKnownSecret(text));
    }

    [Fact]
    public void Find_known_secret_ignores_values_too_short_to_mask()
    {
        var redactor = new Redactor([new KeyValuePair<string, string>("FLAG", "12345")]);

        Assert.Null(redactor.FindKnownSecret("id 12345"));
    }

    [Fact]
    public void Find_known_secret_without_known_secrets_is_null()
    {
        Assert.Null(Redactor.None.FindKnownSecret("sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"));
    }

    [Theory]
    [InlineData("export PASSWORD=\"hunter2\"")]
    [InlineData("password='hunter2'")]
    [InlineData("""{"command":"API_KEY=\"hunter2\" npm test"}""")]
    public void A_quoted_assignment_value_is_redacted(string text)
    {
        var redacted = Redactor.None.Redact(text);

        Assert.DoesNotContain("hunter2", redacted, StringComparison.Ordinal);
        Assert.Contains("=", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_secret_value_with_an_escaped_quote_is_redacted_whole()
    {
        var redacted = Redactor.None.Redact("""{"password":"hun\"ter2"}""");

        Assert.DoesNotContain("ter2", redacted, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"aggregated_output":"ok\nAKIAIOSFODNN7EXAMPLE\n"}""", "AKIAIOSFODNN7EXAMPLE")]
    [InlineData("""{"aggregated_output":"ok\nsk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n"}""", HostileKey)]
    [InlineData("""{"aggregated_output":"\tghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"}""", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")]
    [InlineData("""{"aggregated_output":"headers:\nBearer abcdef123456"}""", "abcdef123456")]
    public void A_secret_right_after_an_escaped_line_break_in_json_is_redacted(string line, string secret)
    {
        Assert.DoesNotContain(secret, Redactor.None.Redact(line), StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_after_a_real_line_break_is_redacted()
    {
        Assert.Equal("ok\n[REDACTED]\n", Redactor.None.Redact("ok\nAKIAIOSFODNN7EXAMPLE\n"));
    }

    [Fact]
    public void A_private_key_cut_off_before_its_end_line_is_redacted()
    {
        var redacted = Redactor.None.Redact("-----BEGIN RSA PRIVATE KEY-----\n" + PemBody + "\n");

        Assert.DoesNotContain("MIIEpAIBAAKCAQEA", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void A_private_key_header_in_one_json_field_does_not_swallow_the_next_field()
    {
        const string line = """{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc \"grep -A2 -e '-----BEGIN RSA PRIVATE KEY-----' notes.md\"","aggregated_output":"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n","exit_code":0,"status":"completed"}}""";

        using var json = JsonDocument.Parse(Redactor.None.Redact(line));

        var output = json.RootElement.GetProperty("item").GetProperty("aggregated_output").GetString();
        Assert.DoesNotContain("MIIEpAIBAAKCAQEA", output, StringComparison.Ordinal);
    }
}

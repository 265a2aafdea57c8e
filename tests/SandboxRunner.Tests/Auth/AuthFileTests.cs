using System.Text.Json.Nodes;
using SandboxRunner.Auth;

namespace SandboxRunner.Tests.Auth;

/// <summary>Reading the host's auth.json as Codex 0.169 writes it, and writing it back after a refresh the way Codex does.</summary>
public sealed class AuthFileTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_tokens_account_plan_and_expiry_are_read()
    {
        using var files = new SignInFiles(Now.AddHours(3));

        var tokens = AuthFile.Read(files.AuthFilePath);

        Assert.Equal("rt-1", tokens.RefreshToken);
        Assert.Equal("acct-1", tokens.AccountId);
        Assert.Equal("pro", tokens.PlanType);
        Assert.False(tokens.IsFedramp);
        Assert.Equal(Now.AddHours(3), tokens.StaleAt);
    }

    [Fact]
    public void Last_refresh_with_nanoseconds_as_chrono_writes_it_is_read()
    {
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1234567), AuthFile.ParseTime("2026-11-01T10:00:00.123456789Z"));
    }

    [Fact]
    public void An_access_token_without_exp_goes_stale_eight_days_after_last_refresh_as_in_codex()
    {
        using var files = new SignInFiles(accessExpiry: null, lastRefresh: "2026-11-01T10:00:00Z");

        var tokens = AuthFile.Read(files.AuthFilePath);

        Assert.Equal(new DateTimeOffset(2026, 11, 9, 10, 0, 0, TimeSpan.Zero), tokens.StaleAt);
    }

    [Fact]
    public void Writing_back_replaces_the_tokens_sets_last_refresh_keeps_other_fields_and_leaves_mode_0600()
    {
        using var files = new SignInFiles(Now.AddHours(-1), extra: new JsonObject { ["future_field"] = new JsonObject { ["kept"] = true } });
        File.SetUnixFileMode(files.AuthFilePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var tokens = AuthFile.WriteRefreshed(files.AuthFilePath, idToken: null, accessToken: "new-access", refreshToken: "rt-2", Now);

        var json = files.Json();
        Assert.Equal("new-access", (string?)json["tokens"]!["access_token"]);
        Assert.Equal("rt-2", (string?)json["tokens"]!["refresh_token"]);
        Assert.Equal("acct-1", (string?)json["tokens"]!["account_id"]);
        Assert.Equal("chatgpt", (string?)json["auth_mode"]);
        Assert.True((bool)json["future_field"]!["kept"]!);
        Assert.Equal("2026-12-02T09:00:00.0000000Z", (string?)json["last_refresh"]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(files.AuthFilePath));
        Assert.Equal(Now, tokens.LastRefresh);
        Assert.Equal(["auth.json"], Directory.EnumerateFileSystemEntries(files.CodexHome).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("""{"OPENAI_API_KEY":"sk-x"}""", "holds no ChatGPT sign-in")]
    [InlineData("""{"tokens":{"id_token":"a.b.c","access_token":"a.b.c","account_id":"x"}}""", "no tokens.refresh_token")]
    public void A_file_without_a_usable_sign_in_is_refused_naming_codex_login(string text, string why)
    {
        using var files = new SignInFiles(Now);
        File.WriteAllText(files.AuthFilePath, text);

        var e = Assert.Throws<ChatGptAuthException>(() => AuthFile.Read(files.AuthFilePath));

        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains("codex login", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_names_the_path_and_codex_login()
    {
        var e = Assert.Throws<ChatGptAuthException>(() => AuthFile.Read("/nonexistent/sandbox-runner/auth.json"));

        Assert.Contains("/nonexistent/sandbox-runner/auth.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("codex login", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_path_is_codex_home_then_home_dot_codex_and_never_the_real_home_of_a_test()
    {
        Assert.Equal("/ch/auth.json", AuthFile.PathFor(n => n == "CODEX_HOME" ? "/ch" : "/h"));
        Assert.Equal("/h/.codex/auth.json", AuthFile.PathFor(n => n == "HOME" ? "/h" : null));
        Assert.Null(AuthFile.PathFor(_ => null));
    }

    [Fact]
    public void Tokens_with_characters_a_jwt_has_not_are_unsafe_for_the_proxy_config()
    {
        var tokens = new ChatGptTokens("abc\"; proxy_pass http://evil", "rt", "a.b.c", "acct", null);

        Assert.NotNull(tokens.UnsafeForProxy());
        Assert.DoesNotContain("evil", tokens.ToString(), StringComparison.Ordinal);
    }
}

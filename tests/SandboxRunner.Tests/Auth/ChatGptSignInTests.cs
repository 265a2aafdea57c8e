using System.Net;
using SandboxRunner.Auth;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Auth;

/// <summary>Refreshing the host's sign-in on the host, as Codex 0.169 refreshes it.</summary>
public sealed class ChatGptSignInTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_token_valid_for_the_whole_run_is_used_without_a_refresh()
    {
        using var files = new SignInFiles(Now.AddHours(5));
        using var endpoint = new ScriptedTokenEndpoint();
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "https://auth.invalid/oauth/token", new FixedClock(Now), endpoint);

        var tokens = await signIn.FreshAsync(TimeSpan.FromHours(1), CancellationToken.None);

        Assert.Equal("rt-1", tokens.RefreshToken);
        Assert.Empty(endpoint.Requests);
    }

    [Fact]
    public async Task A_token_that_would_expire_during_the_run_is_refreshed_with_codexs_request_and_written_back()
    {
        using var files = new SignInFiles(Now.AddMinutes(30));
        var fresh = Jwt.Unsigned(new() { ["exp"] = Now.AddDays(10).ToUnixTimeSeconds() });
        using var endpoint = new ScriptedTokenEndpoint((HttpStatusCode.OK, ScriptedTokenEndpoint.Tokens(fresh)));
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "https://auth.invalid/oauth/token", new FixedClock(Now), endpoint);

        var tokens = await signIn.FreshAsync(TimeSpan.FromHours(1), CancellationToken.None);

        var request = Assert.Single(endpoint.Requests);
        Assert.Equal(ChatGptSignIn.ClientId, (string?)request["client_id"]);
        Assert.Equal("refresh_token", (string?)request["grant_type"]);
        Assert.Equal("rt-1", (string?)request["refresh_token"]);
        Assert.Equal(fresh, tokens.AccessToken);
        Assert.Equal("rt-2", tokens.RefreshToken);
        Assert.Equal("plus", tokens.PlanType);
        Assert.Equal(fresh, (string?)files.Json()["tokens"]!["access_token"]);
    }

    [Fact]
    public async Task An_answer_without_a_new_refresh_token_keeps_the_old_one_as_codex_does()
    {
        using var files = new SignInFiles(Now.AddMinutes(-1));
        using var endpoint = new ScriptedTokenEndpoint((HttpStatusCode.OK, ScriptedTokenEndpoint.Tokens("a.b.c", refresh: null)));
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "https://auth.invalid/oauth/token", new FixedClock(Now), endpoint);

        var tokens = await signIn.FreshAsync(TimeSpan.Zero, CancellationToken.None);

        Assert.Equal("rt-1", tokens.RefreshToken);
    }

    [Fact]
    public async Task Two_runs_that_need_a_refresh_at_once_spend_the_refresh_token_once()
    {
        using var files = new SignInFiles(Now.AddMinutes(-1));
        var fresh = Jwt.Unsigned(new() { ["exp"] = Now.AddDays(10).ToUnixTimeSeconds() });
        using var endpoint = new ScriptedTokenEndpoint((HttpStatusCode.OK, ScriptedTokenEndpoint.Tokens(fresh)));
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "https://auth.invalid/oauth/token", new FixedClock(Now), endpoint);

        var both = await Task.WhenAll(signIn.FreshAsync(TimeSpan.FromHours(1), CancellationToken.None), signIn.FreshAsync(TimeSpan.FromHours(1), CancellationToken.None));

        Assert.Single(endpoint.Requests);
        Assert.All(both, t => Assert.Equal(fresh, t.AccessToken));
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, """{"error":{"code":"refresh_token_invalidated"}}""", "revoked")]
    [InlineData(HttpStatusCode.BadRequest, """{"error":{"code":"refresh_token_expired"}}""", "has expired")]
    [InlineData(HttpStatusCode.BadRequest, """{"error":"refresh_token_reused"}""", "already used")]
    [InlineData(HttpStatusCode.InternalServerError, "oops", "500")]
    public async Task A_refused_refresh_says_why_names_codex_login_and_leaves_the_file_as_it_was(HttpStatusCode status, string body, string why)
    {
        using var files = new SignInFiles(Now.AddMinutes(-1));
        var before = File.ReadAllText(files.AuthFilePath);
        using var endpoint = new ScriptedTokenEndpoint((status, body));
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "https://auth.invalid/oauth/token", new FixedClock(Now), endpoint);

        var e = await Assert.ThrowsAsync<ChatGptAuthException>(() => signIn.FreshAsync(TimeSpan.Zero, CancellationToken.None));

        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains("codex login", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("rt-1", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(files.AuthFilePath));
    }

    [Fact]
    public async Task An_unreachable_token_endpoint_is_a_clear_error_not_a_crash()
    {
        using var files = new SignInFiles(Now.AddMinutes(-1));
        using var signIn = new ChatGptSignIn(files.AuthFilePath, "http://127.0.0.1:9/oauth/token", new FixedClock(Now));

        var e = await Assert.ThrowsAsync<ChatGptAuthException>(() => signIn.FreshAsync(TimeSpan.Zero, CancellationToken.None));

        Assert.Contains("could not be reached", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_token_endpoint_is_codexs_own_override_variable_or_the_real_one()
    {
        using var home = new TempDirectory();

        using var overridden = ChatGptSignIn.ForHost(n => n switch { "CODEX_HOME" => home.Path, ChatGptSignIn.TokenUrlVariable => "http://127.0.0.1:1/t", _ => null });
        using var real = ChatGptSignIn.ForHost(n => n == "CODEX_HOME" ? home.Path : null);

        Assert.Equal("http://127.0.0.1:1/t", overridden.TokenUrl);
        Assert.Equal("https://auth.openai.com/oauth/token", real.TokenUrl);
    }
}

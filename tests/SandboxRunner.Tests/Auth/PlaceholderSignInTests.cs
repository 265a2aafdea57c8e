using System.Text.Json.Nodes;
using SandboxRunner.Auth;

namespace SandboxRunner.Tests.Auth;

/// <summary>What a task gets instead of the host's sign-in: placeholders Codex 0.169 accepts and never refreshes.</summary>
public sealed class PlaceholderSignInTests
{
    [Fact]
    public void The_placeholder_auth_json_has_codexs_shape_an_access_token_that_never_goes_stale_and_only_the_plan_from_the_real_one()
    {
        var json = JsonNode.Parse(PlaceholderSignIn.AuthJson("pro", DateTimeOffset.UtcNow))!;

        Assert.Equal("chatgpt", (string?)json["auth_mode"]);
        Assert.NotNull(json["last_refresh"]);
        var tokens = json["tokens"]!;
        Assert.Equal(PlaceholderSignIn.AccountId, (string?)tokens["account_id"]);
        Assert.Equal(PlaceholderSignIn.RefreshToken, (string?)tokens["refresh_token"]);
        Assert.Equal(PlaceholderSignIn.Expiry, Jwt.ExpiresAt((string?)tokens["access_token"]));
        Assert.Equal("pro", (string?)Jwt.OpenAiAuthClaim((string?)tokens["id_token"])!["chatgpt_plan_type"]);
        Assert.Equal("none", (string?)JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(((string)tokens["access_token"]!).Split('.')[0]))!["alg"]);
    }

    [Fact]
    public void Codex_is_pointed_at_the_proxy_for_turns_backend_calls_and_token_refreshes()
    {
        var overrides = PlaceholderSignIn.CodexOverrides("http://sandbox-proxy:8080", "0.169.0");
        var environment = PlaceholderSignIn.Environment("http://sandbox-proxy:8080");

        Assert.Contains("chatgpt_base_url=\"http://sandbox-proxy:8080/backend-api/\"", overrides);
        Assert.Contains(overrides, o => o.Contains("base_url=\"http://sandbox-proxy:8080/backend-api/codex\"", StringComparison.Ordinal)
                                         && o.Contains("requires_openai_auth=true", StringComparison.Ordinal)
                                         && o.Contains("supports_websockets=false", StringComparison.Ordinal));
        Assert.Equal("http://sandbox-proxy:8080/sandbox-runner/token-refused", environment["CODEX_REFRESH_TOKEN_URL_OVERRIDE"]);
        Assert.Contains("CODEX_API_KEY", PlaceholderSignIn.OutrankingVariables);
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("a..c")]
    [InlineData("a.!!!.c")]
    [InlineData("")]
    public void A_token_that_is_not_a_jwt_has_no_claims(string token)
    {
        Assert.Null(Jwt.Claims(token));
        Assert.Null(Jwt.ExpiresAt(token));
    }
}

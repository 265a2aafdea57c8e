using System.Globalization;
using System.Text.Json.Nodes;

namespace SandboxRunner.Auth;

/// <summary>
/// What Codex inside a task needs to believe it is signed in with ChatGPT, holding no real token: an
/// <c>auth.json</c> whose tokens are unsigned placeholders, and the settings that send every model request to the
/// run's egress proxy, which replaces <c>Authorization</c> and <c>ChatGPT-Account-ID</c> with the real values.
/// <list type="bullet">
/// <item>The access token's <c>exp</c> is in 2100, so Codex 0.169 never finds it stale and never refreshes
/// proactively (<c>is_stale_for_proactive_refresh</c> reads only <c>exp</c> when there is one).</item>
/// <item>A refresh after a 401 (<c>UnauthorizedRecovery</c>) goes to <c>CODEX_REFRESH_TOKEN_URL_OVERRIDE</c>, which
/// points at the proxy, which refuses it locally: it never reaches the real token endpoint, and the placeholder
/// refresh token would be worthless there anyway.</item>
/// </list>
/// </summary>
public static class PlaceholderSignIn
{
    public const string AccountId = "sandbox-runner-placeholder-account";
    public const string RefreshToken = "sandbox-runner-placeholder-refresh-token";
    public const string Email = "placeholder@sandbox-runner.invalid";

    /// <summary>2100-01-01: far enough that no run sees it expire.</summary>
    public static readonly DateTimeOffset Expiry = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Where the proxy refuses token refreshes and revocations from inside a task.</summary>
    public const string RefusedTokenPath = "/sandbox-runner/token-refused";

    /// <summary>The task's <c>auth.json</c>. Only the plan type (not a secret; Codex picks defaults by it) comes from the real sign-in.</summary>
    public static string AuthJson(string? planType, DateTimeOffset now)
    {
        var auth = new JsonObject
        {
            ["chatgpt_plan_type"] = planType ?? "unknown",
            ["chatgpt_user_id"] = "sandbox-runner-placeholder-user",
            ["chatgpt_account_id"] = AccountId,
        };
        var exp = Expiry.ToUnixTimeSeconds();
        var idToken = Jwt.Unsigned(new JsonObject { ["email"] = Email, ["exp"] = exp, ["https://api.openai.com/auth"] = auth });
        var accessToken = Jwt.Unsigned(new JsonObject
        {
            ["exp"] = exp,
            ["https://api.openai.com/auth"] = new JsonObject { ["chatgpt_account_id"] = AccountId },
            ["sandbox_runner"] = "placeholder: the run's egress proxy adds the real token",
        });
        var root = new JsonObject
        {
            ["auth_mode"] = "chatgpt",
            ["OPENAI_API_KEY"] = null,
            ["tokens"] = new JsonObject
            {
                ["id_token"] = idToken,
                ["access_token"] = accessToken,
                ["refresh_token"] = RefreshToken,
                ["account_id"] = AccountId,
            },
            ["last_refresh"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// The Codex settings for a task whose model requests go to the proxy at <paramref name="proxyBaseUrl"/>: a custom
    /// provider that uses the (placeholder) ChatGPT sign-in (<c>requires_openai_auth</c>) on the ChatGPT backend's
    /// Codex path, over HTTP only (the built-in provider would try WebSockets and a "workspace routing discovery"
    /// first), and <c>chatgpt_base_url</c> on the proxy too, so nothing ChatGPT-bound leaves any other way.
    /// </summary>
    public static IReadOnlyList<string> CodexOverrides(string proxyBaseUrl, string codexVersion) =>
    [
        $"chatgpt_base_url=\"{proxyBaseUrl}/backend-api/\"",
        "cli_auth_credentials_store=\"file\"",
        "features.apps=false",
        "model_provider=\"sandbox-runner\"",
        $"model_providers.sandbox-runner={{name=\"sandbox-runner\",base_url=\"{proxyBaseUrl}/backend-api/codex\",wire_api=\"responses\",requires_openai_auth=true,supports_websockets=false,http_headers={{version=\"{codexVersion}\"}}}}",
    ];

    /// <summary>The environment that keeps Codex's token refresh and revocation on the proxy, and nothing that would outrank auth.json.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string proxyBaseUrl) => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = proxyBaseUrl + RefusedTokenPath,
        ["CODEX_REVOKE_TOKEN_URL_OVERRIDE"] = proxyBaseUrl + RefusedTokenPath,
    };

    /// <summary>Variables Codex prefers to auth.json (an API key, an agent identity): never passed into a ChatGPT task.</summary>
    public static IReadOnlyList<string> OutrankingVariables { get; } = ["CODEX_API_KEY", "OPENAI_API_KEY", "CODEX_ACCESS_TOKEN"];
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SandboxRunner.Auth;

/// <summary>
/// The ChatGPT sign-in of the host's <c>auth.json</c>: bearer credentials for the whole account, so they stay on the
/// host and with the run's egress proxy. <see cref="ToString"/> never shows them.
/// </summary>
public sealed partial class ChatGptTokens
{
    /// <summary>Codex's fallback when the access token carries no <c>exp</c>: refresh after 8 days (<c>TOKEN_REFRESH_INTERVAL</c>).</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromDays(8);

    public ChatGptTokens(string accessToken, string refreshToken, string idToken, string accountId, DateTimeOffset? lastRefresh)
    {
        AccessToken = accessToken;
        RefreshToken = refreshToken;
        IdToken = idToken;
        AccountId = accountId;
        LastRefresh = lastRefresh;
        var auth = Jwt.OpenAiAuthClaim(idToken);
        PlanType = auth?["chatgpt_plan_type"] is JsonValue plan && plan.TryGetValue<string>(out var p) ? p : null;
        IsFedramp = auth?["chatgpt_account_is_fedramp"] is JsonValue f && f.TryGetValue<bool>(out var fedramp) && fedramp;
    }

    public string AccessToken { get; }
    public string RefreshToken { get; }
    public string IdToken { get; }

    /// <summary>What Codex sends as <c>ChatGPT-Account-ID</c>: <c>tokens.account_id</c>.</summary>
    public string AccountId { get; }

    public DateTimeOffset? LastRefresh { get; }

    /// <summary>The plan (<c>plus</c>, <c>pro</c>, ...) from the id token; not a secret, and Codex picks defaults by it.</summary>
    public string? PlanType { get; }

    /// <summary>FedRAMP accounts get <c>X-OpenAI-Fedramp: true</c> on every backend request.</summary>
    public bool IsFedramp { get; }

    /// <summary>
    /// When Codex 0.169 would call the access token stale (<c>is_stale_for_proactive_refresh</c>): its JWT <c>exp</c>, or
    /// without one <c>last_refresh</c> plus 8 days; null when neither is known.
    /// </summary>
    public DateTimeOffset? StaleAt => Jwt.ExpiresAt(AccessToken) ?? LastRefresh?.Add(RefreshInterval);

    /// <summary>Whether the access token is still good at <paramref name="moment"/>.</summary>
    public bool ValidAt(DateTimeOffset moment) => StaleAt is not { } stale || stale > moment;

    /// <summary>The values to mask wherever the runner shows text, and to look for where they must never be.</summary>
    public IReadOnlyDictionary<string, string> Secrets => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["chatgpt access_token"] = AccessToken,
        ["chatgpt refresh_token"] = RefreshToken,
        ["chatgpt id_token"] = IdToken,
    };

    /// <summary>
    /// Whether the values can be written into the egress proxy's nginx config verbatim: JWT and id characters only,
    /// so a doctored <c>auth.json</c> cannot inject configuration.
    /// </summary>
    public string? UnsafeForProxy() =>
        !TokenCharacters().IsMatch(AccessToken) ? "tokens.access_token has characters a JWT does not"
        : !AccountCharacters().IsMatch(AccountId) ? "tokens.account_id has characters an account id does not"
        : null;

    public override string ToString() => $"ChatGPT sign-in (account {AccountId}, plan {PlanType ?? "unknown"})";

    [GeneratedRegex(@"^[A-Za-z0-9._~+/=-]{1,65536}\z")]
    private static partial Regex TokenCharacters();

    [GeneratedRegex(@"^[A-Za-z0-9._:-]{1,256}\z")]
    private static partial Regex AccountCharacters();
}

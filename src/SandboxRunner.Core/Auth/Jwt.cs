using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SandboxRunner.Auth;

/// <summary>
/// Reads the claims of the JWTs in Codex's <c>auth.json</c> the way Codex 0.169 does (<c>login/src/token_data.rs</c>):
/// the payload is base64url without padding, and the signature is never checked, because nothing here decides
/// trust from a claim; the claims only say when a token expires and which account it is for.
/// </summary>
public static class Jwt
{
    /// <summary>Tokens longer than this are not ChatGPT's (theirs are a few KiB); refusing them bounds the work.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>The payload's claims, or null when <paramref name="token"/> is not a three-part JWT with a JSON object payload.</summary>
    public static JsonObject? Claims(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxLength)
        {
            return null;
        }

        var parts = token.Split('.');
        if (parts.Length != 3 || parts.Any(p => p.Length == 0))
        {
            return null;
        }

        try
        {
            var bytes = Base64Url.DecodeFromChars(parts[1]);
            return JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The <c>exp</c> claim; null when there is none (Codex then falls back to <c>last_refresh</c> plus 8 days).</summary>
    public static DateTimeOffset? ExpiresAt(string? token) =>
        Claims(token)?["exp"] is JsonValue exp && exp.TryGetValue<long>(out var seconds) && seconds is > 0 and < 253402300800
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>The <c>https://api.openai.com/auth</c> claim object, where ChatGPT puts the account, user and plan.</summary>
    public static JsonObject? OpenAiAuthClaim(string? token) => Claims(token)?["https://api.openai.com/auth"] as JsonObject;

    /// <summary>An unsigned JWT (<c>alg: none</c>) with these claims: only ever a placeholder, worthless to any server.</summary>
    public static string Unsigned(JsonObject claims)
    {
        static string Part(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
        return $"{Part("""{"alg":"none","typ":"JWT"}""")}.{Part(claims.ToJsonString())}.{Part("sandbox-runner-placeholder")}";
    }
}

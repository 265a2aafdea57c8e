using System.Text.Json.Nodes;
using SandboxRunner.Auth;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A host's ChatGPT sign-in for a test: a <c>CODEX_HOME</c> folder with an <c>auth.json</c> shaped as Codex 0.169
/// writes it, whose tokens are unique to the test (so finding one anywhere is proof it leaked).
/// </summary>
public sealed class ChatGptHost : IDisposable
{
    public ChatGptHost(DateTimeOffset accessExpiry)
    {
        CodexHome = Directory.CreateTempSubdirectory("sandbox-runner-codex-home-").FullName;
        var unique = Guid.NewGuid().ToString("N");
        AccountId = $"acct-{unique[..12]}";
        AccessToken = Token(unique, "access", accessExpiry);
        RefreshToken = $"rt-real-{unique}";
        IdToken = IdTokenFor(AccountId, unique);
        File.WriteAllText(AuthFilePath, new JsonObject
        {
            ["auth_mode"] = "chatgpt",
            ["OPENAI_API_KEY"] = null,
            ["tokens"] = new JsonObject
            {
                ["id_token"] = IdToken,
                ["access_token"] = AccessToken,
                ["refresh_token"] = RefreshToken,
                ["account_id"] = AccountId,
            },
            ["last_refresh"] = "2026-11-01T10:00:00.123456789Z",
        }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.SetUnixFileMode(AuthFilePath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public string CodexHome { get; }
    public string AuthFilePath => Path.Combine(CodexHome, "auth.json");
    public string AccountId { get; }
    public string AccessToken { get; }
    public string RefreshToken { get; }
    public string IdToken { get; }

    /// <summary>Every real value issued so far (the refreshed ones are added by <see cref="RefreshAnswer"/>).</summary>
    public List<string> RealValues => [AccessToken, RefreshToken, IdToken, AccountId, .. _issued];

    private readonly List<string> _issued = [];

    /// <summary>What the scripted token endpoint answers a refresh with: new tokens, a rotated refresh token.</summary>
    public (string Access, string Refresh, string Id) RefreshAnswer(DateTimeOffset expiry)
    {
        var unique = Guid.NewGuid().ToString("N");
        var issued = (Token(unique, "access", expiry), $"rt-rotated-{unique}", IdTokenFor(AccountId, unique));
        _issued.AddRange([issued.Item1, issued.Item2, issued.Item3]);
        return issued;
    }

    public JsonObject AuthJson() => JsonNode.Parse(File.ReadAllText(AuthFilePath))!.AsObject();

    private static string Token(string unique, string kind, DateTimeOffset expiry) =>
        Jwt.Unsigned(new JsonObject { ["exp"] = expiry.ToUnixTimeSeconds(), ["kind"] = kind, ["jti"] = $"{kind}-{unique}" });

    private static string IdTokenFor(string accountId, string unique) => Jwt.Unsigned(new JsonObject
    {
        ["email"] = $"user-{unique[..8]}@example.com",
        ["https://api.openai.com/auth"] = new JsonObject { ["chatgpt_account_id"] = accountId, ["chatgpt_plan_type"] = "plus", ["chatgpt_user_id"] = $"user-{unique}" },
    });

    public void Dispose() => Directory.Delete(CodexHome, recursive: true);
}

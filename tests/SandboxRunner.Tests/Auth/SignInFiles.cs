using System.Text.Json.Nodes;
using SandboxRunner.Auth;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Auth;

/// <summary>A temporary CODEX_HOME with an auth.json shaped as Codex 0.169 writes it.</summary>
internal sealed class SignInFiles : IDisposable
{
    private readonly TempDirectory _home = new();

    public SignInFiles(DateTimeOffset? accessExpiry, string? lastRefresh = "2026-11-01T10:00:00.123456789Z", JsonObject? extra = null)
    {
        var access = new JsonObject { ["kind"] = "access" };
        if (accessExpiry is { } exp)
        {
            access["exp"] = exp.ToUnixTimeSeconds();
        }

        var root = new JsonObject
        {
            ["auth_mode"] = "chatgpt",
            ["OPENAI_API_KEY"] = null,
            ["tokens"] = new JsonObject
            {
                ["id_token"] = Jwt.Unsigned(new JsonObject
                {
                    ["https://api.openai.com/auth"] = new JsonObject { ["chatgpt_account_id"] = "acct-1", ["chatgpt_plan_type"] = "pro", ["chatgpt_account_is_fedramp"] = false },
                }),
                ["access_token"] = Jwt.Unsigned(access),
                ["refresh_token"] = "rt-1",
                ["account_id"] = "acct-1",
            },
        };
        if (lastRefresh is not null)
        {
            root["last_refresh"] = lastRefresh;
        }

        foreach (var (name, value) in extra ?? [])
        {
            root[name] = value?.DeepClone();
        }

        File.WriteAllText(AuthFilePath, root.ToJsonString());
    }

    public string CodexHome => _home.Path;

    public string AuthFilePath => Path.Combine(_home.Path, "auth.json");

    public Func<string, string?> Environment(params (string Name, string Value)[] more) =>
        name => name == "CODEX_HOME" ? CodexHome : more.FirstOrDefault(m => m.Name == name).Value;

    public JsonObject Json() => JsonNode.Parse(File.ReadAllText(AuthFilePath))!.AsObject();

    public void Dispose() => _home.Dispose();
}

/// <summary>A token endpoint in memory: records each request body and answers with the next scripted reply.</summary>
internal sealed class ScriptedTokenEndpoint(params (System.Net.HttpStatusCode Status, string Body)[] replies) : HttpMessageHandler
{
    private int _next;

    public List<JsonObject> Requests { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Add(JsonNode.Parse(await request.Content!.ReadAsStringAsync(cancellationToken))!.AsObject());
        var (status, body) = replies[Math.Min(_next++, replies.Length - 1)];
        return new HttpResponseMessage(status) { Content = new StringContent(body) };
    }

    public static string Tokens(string access, string? refresh = "rt-2") => new JsonObject
    {
        ["access_token"] = access,
        ["refresh_token"] = refresh,
        ["id_token"] = Jwt.Unsigned(new JsonObject { ["https://api.openai.com/auth"] = new JsonObject { ["chatgpt_account_id"] = "acct-1", ["chatgpt_plan_type"] = "plus" } }),
    }.ToJsonString();
}

internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

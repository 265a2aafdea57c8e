using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using SandboxRunner.Platform;

namespace SandboxRunner.Auth;

/// <summary>
/// The host's ChatGPT sign-in, kept fresh on the host: a task never refreshes (it holds placeholders only).
/// Refreshing follows Codex 0.169 (<c>login/src/auth/manager.rs</c>): <c>POST</c> the token endpoint
/// (<c>https://auth.openai.com/oauth/token</c>, or <c>CODEX_REFRESH_TOKEN_URL_OVERRIDE</c> as for Codex itself)
/// with <c>{client_id, grant_type: "refresh_token", refresh_reason, refresh_token}</c>; the answer's
/// <c>id_token</c>, <c>access_token</c> and <c>refresh_token</c> replace those in <c>auth.json</c>. Like Codex, a
/// refresh first re-reads the file under a lock: when another process already refreshed, its tokens are used
/// and the (single-use) refresh token is not spent twice. The lock is process-wide (runs of this server) and a
/// lock file beside <c>auth.json</c> (other sandbox-runner processes).
/// </summary>
public sealed class ChatGptSignIn : IDisposable
{
    public const string DefaultTokenUrl = "https://auth.openai.com/oauth/token";
    public const string TokenUrlVariable = "CODEX_REFRESH_TOKEN_URL_OVERRIDE";

    /// <summary>Codex's OAuth client id (<c>CLIENT_ID</c>), which the token endpoint expects on a refresh.</summary>
    public const string ClientId = "app_EMoamEEZ73f0CkXaXp7hrann";

    private static readonly TimeSpan LockBudget = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HttpClient _http;
    private readonly TimeProvider _clock;

    public ChatGptSignIn(string authFile, string tokenUrl, TimeProvider? clock = null, HttpMessageHandler? handler = null)
    {
        AuthFilePath = authFile;
        TokenUrl = tokenUrl;
        _clock = clock ?? TimeProvider.System;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = TimeSpan.FromSeconds(30);
    }

    /// <summary>The sign-in the host's Codex uses, with the token endpoint Codex would use.</summary>
    public static ChatGptSignIn ForHost(Func<string, string?> environment, TimeProvider? clock = null) =>
        new(AuthFile.PathFor(environment) ?? throw new ChatGptAuthException("neither CODEX_HOME nor HOME is set, so there is no auth.json to read; set CODEX_HOME to the folder that holds it"),
            environment(TokenUrlVariable) is { Length: > 0 } url ? url : DefaultTokenUrl, clock);

    public string AuthFilePath { get; }

    public string TokenUrl { get; }

    /// <summary>The tokens as they are on disk, without refreshing.</summary>
    public ChatGptTokens Read() => AuthFile.Read(AuthFilePath);

    /// <summary>
    /// Tokens whose access token stays good for at least <paramref name="validFor"/>, refreshing on the host first when
    /// it would not; a refresh that the token endpoint refuses is a <see cref="ChatGptAuthException"/> naming <c>codex login</c>.
    /// </summary>
    public async Task<ChatGptTokens> FreshAsync(TimeSpan validFor, CancellationToken cancellationToken)
    {
        var current = Read();
        if (current.ValidAt(_clock.GetUtcNow() + validFor))
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var fileLock = await LockFileAsync(cancellationToken);

            // Guarded reload (Codex's refresh_token): whoever held the lock before may have refreshed already.
            current = Read();
            if (current.ValidAt(_clock.GetUtcNow() + validFor))
            {
                return current;
            }

            return await RefreshAsync(current, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ChatGptTokens> RefreshAsync(ChatGptTokens current, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsJsonAsync(
                TokenUrl,
                new Dictionary<string, string>
                {
                    ["client_id"] = ClientId,
                    ["grant_type"] = "refresh_token",
                    ["refresh_reason"] = "proactive_expiry",
                    ["refresh_token"] = current.RefreshToken,
                },
                cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ChatGptAuthException(
                $"the ChatGPT access token in {AuthFilePath} has expired and the token endpoint {TokenUrl} could not be reached to refresh it ({e.Message}); check this machine's network and try again, or {ChatGptAuthException.LoginFix}");
        }

        using (response)
        {
            var body = await ReadBoundedAsync(response, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ChatGptAuthException(RefusalMessage(response.StatusCode, body));
            }

            JsonObject? answer;
            try
            {
                answer = JsonNode.Parse(body) as JsonObject;
            }
            catch (JsonException)
            {
                answer = null;
            }

            string? Token(string name) => answer?[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
            if (answer is null || Token("access_token") is null)
            {
                throw new ChatGptAuthException($"the token endpoint {TokenUrl} answered the refresh without an access token; {ChatGptAuthException.LoginFix}");
            }

            return AuthFile.WriteRefreshed(AuthFilePath, Token("id_token"), Token("access_token"), Token("refresh_token"), _clock.GetUtcNow());
        }
    }

    /// <summary>Codex's classification of a refused refresh (<c>classify_refresh_token_failure</c>), each naming the fix.</summary>
    private string RefusalMessage(HttpStatusCode status, string body)
    {
        string? code = null;
        try
        {
            var root = JsonNode.Parse(body) as JsonObject;
            code = root?["error"] switch
            {
                JsonObject error => error["code"]?.GetValue<string>(),
                JsonValue error => error.GetValue<string>(),
                _ => root?["code"]?.GetValue<string>(),
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
        }

        var why = code?.ToLowerInvariant() switch
        {
            "refresh_token_expired" => "the refresh token has expired",
            "refresh_token_reused" => "the refresh token was already used (another program refreshed with it first)",
            "refresh_token_invalidated" => "the refresh token was revoked (signed out, or the password changed)",
            _ => $"the token endpoint {TokenUrl} refused the refresh ({(int)status} {status}{(code is null ? "" : $", {code}")})",
        };
        return $"the ChatGPT sign-in in {AuthFilePath} cannot be refreshed: {why}; {ChatGptAuthException.LoginFix}";
    }

    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        const int MaxBytes = 256 * 1024;
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxBytes];
        var read = 0;
        int n;
        while (read < MaxBytes && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
        {
            read += n;
        }

        return System.Text.Encoding.UTF8.GetString(buffer, 0, read);
    }

    /// <summary>An exclusive lock file beside auth.json, so two sandbox-runner processes never refresh at once.</summary>
    private async Task<FileStream> LockFileAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(AuthFilePath))!, ".auth.json.sandbox-runner.lock");
        return await Poll.ForAsync(_ => Task.FromResult(TryLock(path)), TimeSpan.FromMilliseconds(100), LockBudget, cancellationToken)
            ?? throw new ChatGptAuthException($"another sandbox-runner has held {path} for over {LockBudget.TotalSeconds:F0} s while refreshing the ChatGPT sign-in; try again, or remove the file if no sandbox-runner is running");
    }

    /// <summary>The lock file opened for this process alone; null while another process holds it.</summary>
    private static FileStream? TryLock(string path)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ChatGptAuthException($"cannot create {path} to refresh the ChatGPT sign-in ({e.Message}); make {Path.GetDirectoryName(path)} writable by the user sandbox-runner runs as");
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _gate.Dispose();
    }
}

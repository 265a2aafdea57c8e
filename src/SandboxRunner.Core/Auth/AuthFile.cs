using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SandboxRunner.Auth;

/// <summary>
/// Codex's <c>$CODEX_HOME/auth.json</c> (<c>login/src/auth/storage.rs</c>, <c>AuthDotJson</c>): <c>auth_mode</c>,
/// <c>OPENAI_API_KEY</c>, <c>tokens {id_token, access_token, refresh_token, account_id}</c>, <c>last_refresh</c>.
/// Read bounded; written back the way Codex 0.169 writes it after a refresh: the same pretty-printed JSON, a new
/// file of mode 0600 put in place by rename (so a reader never sees half a file), <c>last_refresh</c> set to now.
/// </summary>
public static class AuthFile
{
    public const string FileName = "auth.json";
    private const long MaxBytes = 1024 * 1024;

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Where Codex keeps the sign-in on the host: <c>$CODEX_HOME/auth.json</c>, else <c>$HOME/.codex/auth.json</c>;
    /// null when the environment has neither (only the given environment is read, so tests stay off the real one).
    /// </summary>
    public static string? PathFor(Func<string, string?> environment) =>
        environment("CODEX_HOME") is { Length: > 0 } codexHome ? Path.Combine(codexHome, FileName)
        : environment("HOME") is { Length: > 0 } home ? Path.Combine(home, ".codex", FileName)
        : null;

    /// <summary>Whether <paramref name="path"/> holds a ChatGPT sign-in (tokens), as opposed to nothing or an API key.</summary>
    public static bool HoldsChatGpt(string? path)
    {
        if (path is null)
        {
            return false;
        }

        try
        {
            return Parse(path, ReadBounded(path)) is not null;
        }
        catch (ChatGptAuthException)
        {
            // A damaged file still means the user signed in with ChatGPT; the run says what is wrong with it.
            return File.Exists(path);
        }
    }

    /// <summary>The sign-in in <paramref name="path"/>; a missing, damaged or API-key-only file is a <see cref="ChatGptAuthException"/> naming the fix.</summary>
    public static ChatGptTokens Read(string path) =>
        Parse(path, ReadBounded(path)) ?? throw new ChatGptAuthException($"{path} holds no ChatGPT sign-in (no \"tokens\"); {ChatGptAuthException.LoginFix}");

    /// <summary>Replaces the tokens the refresh returned (each optional, as in Codex's <c>persist_tokens</c>) and sets <c>last_refresh</c>.</summary>
    public static ChatGptTokens WriteRefreshed(string path, string? idToken, string? accessToken, string? refreshToken, DateTimeOffset now)
    {
        var root = JsonNode.Parse(ReadBounded(path)) as JsonObject
            ?? throw new ChatGptAuthException($"{path} is not a JSON object; {ChatGptAuthException.LoginFix}");
        if (root["tokens"] is not JsonObject tokens)
        {
            throw new ChatGptAuthException($"{path} lost its \"tokens\" during the refresh; {ChatGptAuthException.LoginFix}");
        }

        if (idToken is not null)
        {
            tokens["id_token"] = idToken;
        }

        if (accessToken is not null)
        {
            tokens["access_token"] = accessToken;
        }

        if (refreshToken is not null)
        {
            tokens["refresh_token"] = refreshToken;
        }

        // chrono's RFC 3339 form, as Codex writes it ("2026-12-02T09:05:15.278282925Z"); it parses any precision.
        root["last_refresh"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        var text = root.ToJsonString(Pretty);
        WriteAtomically(path, text);
        return Parse(path, text)!;
    }

    /// <summary>A new file of mode 0600 beside the old one, then a rename over it: never a torn or world-readable auth.json.</summary>
    private static void WriteAtomically(string path, string text)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Combine(directory, $".{FileName}.sandbox-runner-{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>RFC 3339 as chrono writes it, with up to nine fractional digits (.NET reads seven).</summary>
    internal static DateTimeOffset? ParseTime(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            text = string.Concat(text.AsSpan(0, Math.Min(end, dot + 8)), text.AsSpan(end));
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
    }

    private static string ReadBounded(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (stream.Length > MaxBytes)
            {
                throw new ChatGptAuthException($"{path} is over {MaxBytes / 1024} KiB, which no auth.json is; {ChatGptAuthException.LoginFix}");
            }

            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ChatGptAuthException($"there is no ChatGPT sign-in at {path}; {ChatGptAuthException.LoginFix} (or set CODEX_HOME to the folder that holds auth.json)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ChatGptAuthException($"{path} cannot be read ({e.Message}); make it readable by the user sandbox-runner runs as");
        }
    }

    /// <summary>The tokens, or null when the file holds none (an API key sign-in).</summary>
    private static ChatGptTokens? Parse(string path, string text)
    {
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32 }) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new ChatGptAuthException($"{path} is not valid JSON ({e.Message}); {ChatGptAuthException.LoginFix}");
        }

        if (root is null)
        {
            throw new ChatGptAuthException($"{path} is not a JSON object; {ChatGptAuthException.LoginFix}");
        }

        if (root["tokens"] is not JsonObject tokens)
        {
            return null;
        }

        string Field(string name) =>
            tokens[name] is JsonValue value && value.TryGetValue<string>(out var s) && s.Length > 0
                ? s
                : throw new ChatGptAuthException($"{path} has no tokens.{name}; {ChatGptAuthException.LoginFix}");

        var idToken = Field("id_token");

        // Codex sends tokens.account_id; logins that predate the field carry it only in the id token's claims.
        var accountId = tokens["account_id"] is JsonValue a && a.TryGetValue<string>(out var id) && id.Length > 0
            ? id
            : Jwt.OpenAiAuthClaim(idToken)?["chatgpt_account_id"] is JsonValue c && c.TryGetValue<string>(out var claimed) && claimed.Length > 0
                ? claimed
                : throw new ChatGptAuthException($"{path} names no ChatGPT account (tokens.account_id); {ChatGptAuthException.LoginFix}");
        var lastRefresh = root["last_refresh"] is JsonValue lr && lr.TryGetValue<string>(out var when) ? ParseTime(when) : null;
        return new ChatGptTokens(Field("access_token"), Field("refresh_token"), idToken, accountId, lastRefresh);
    }
}

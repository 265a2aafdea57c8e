using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// The login the runner gives the engines for <c>registry</c>, read where <c>docker login</c> keeps it: the Docker
/// config folder's <c>config.json</c> (<c>DOCKER_CONFIG</c>, else <c>~/.docker</c>): an <c>auths</c> entry, or the
/// credential helper (<c>credHelpers</c> for the registry, else <c>credsStore</c>) that <c>docker login</c> stored it with.
/// The engines take a login with each push and pull and never keep it, and swarm's nodes pull a service's image with
/// the login given when the service was created; so a registry that requires one works, and a box that can reach the
/// registry (under <c>allow</c>) reads nothing of it without. No login stored means anonymous, as before.
/// Read once and kept while <c>config.json</c> is unchanged (every push, pull and service create asks, and a credential
/// helper is a process to run), for at most <see cref="MaxAge"/>, since a helper's tokens can expire: a
/// <c>docker login</c> after the runner started (which rewrites the file) counts at the next use.
/// </summary>
internal sealed class RegistryLogin(string? registry, string? configFolder)
{
    private static readonly TimeSpan HelperBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);
    private const int MaxHelperOutput = 64 * 1024;
    private Kept? _kept;

    /// <summary>A login as read from the file last written at <paramref name="Written"/>, at <paramref name="ReadAt"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    private sealed record Kept(DateTime Written, long ReadAt, AuthConfig Login);

    /// <summary>The login for the registry, or an anonymous one when none is stored.</summary>
    public async Task<AuthConfig> ReadAsync(CancellationToken cancellationToken)
    {
        if (registry is null || configFolder is null)
        {
            return new AuthConfig();
        }

        var file = Path.Combine(configFolder, "config.json");
        var written = File.GetLastWriteTimeUtc(file);
        if (Volatile.Read(ref _kept) is { } kept && kept.Written == written && Stopwatch.GetElapsedTime(kept.ReadAt) < MaxAge)
        {
            return kept.Login;
        }

        AuthConfig login;
        try
        {
            login = await FromConfigAsync(await File.ReadAllTextAsync(file, cancellationToken), file, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            login = new AuthConfig();
        }

        Volatile.Write(ref _kept, new Kept(written, Stopwatch.GetTimestamp(), login));
        return login;
    }

    /// <summary>What a <c>config.json</c>'s text says for the registry (<paramref name="file"/> names it in errors).</summary>
    internal async Task<AuthConfig> FromConfigAsync(string text, string file, CancellationToken cancellationToken)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{file} is not valid JSON ({e.Message}); the runner reads the login for registry {registry} from it: fix it or log in again (`docker login {registry}`)", e);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return new AuthConfig();
        }

        if (Entry(root, "credHelpers") is { ValueKind: JsonValueKind.String } helper)
        {
            return await FromHelperAsync(helper.GetString()!, cancellationToken);
        }

        if (Entry(root, "auths") is { ValueKind: JsonValueKind.Object } stored && FromStored(stored, file) is { } login)
        {
            return login;
        }

        return root.TryGetProperty("credsStore", out var store) && store.ValueKind == JsonValueKind.String && store.GetString() is { Length: > 0 } name
            ? await FromHelperAsync(name, cancellationToken)
            : new AuthConfig();
    }

    /// <summary>The registry's entry in the object <paramref name="section"/> names, keyed as the docker CLI keys it (<c>host:port</c>, or a URL of it).</summary>
    private JsonElement? Entry(JsonElement root, string section)
    {
        if (!root.TryGetProperty(section, out var entries) || entries.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var entry in entries.EnumerateObject())
        {
            if (HostOf(entry.Name) == registry)
            {
                return entry.Value;
            }
        }

        return null;
    }

    private static string HostOf(string key)
    {
        var host = key.Contains("://", StringComparison.Ordinal) ? key[(key.IndexOf("://", StringComparison.Ordinal) + 3)..] : key;
        return host.Split('/')[0];
    }

    private AuthConfig? FromStored(JsonElement entry, string file)
    {
        string? Text(string name) => entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        if (Text("identitytoken") is { Length: > 0 } token)
        {
            return new AuthConfig { IdentityToken = token, ServerAddress = registry };
        }

        if (Text("auth") is { Length: > 0 } encoded)
        {
            string pair;
            try
            {
                pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"the login for registry {registry} in {file} is not base64 of user:password; log in again (`docker login {registry}`)");
            }

            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            return colon <= 0
                ? throw new InvalidOperationException($"the login for registry {registry} in {file} is not user:password; log in again (`docker login {registry}`)")
                : new AuthConfig { Username = pair[..colon], Password = pair[(colon + 1)..], ServerAddress = registry };
        }

        return Text("username") is { Length: > 0 } user && Text("password") is { } password
            ? new AuthConfig { Username = user, Password = password, ServerAddress = registry }
            : null;
    }

    /// <summary>
    /// Asks <c>docker-credential-NAME get</c>, as the docker CLI does: the registry on its stdin, a JSON object with
    /// <c>Username</c> and <c>Secret</c> on its stdout (<c>&lt;token&gt;</c> as the user means an identity token). The
    /// helper is what the machine's own Docker config names, never anything a task could have written.
    /// </summary>
    private async Task<AuthConfig> FromHelperAsync(string name, CancellationToken cancellationToken)
    {
        var program = $"docker-credential-{name}";
        var start = new ProcessStartInfo(program, ["get"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(HelperBound);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"the Docker config names the credential helper '{name}' for registry {registry}, but {program} could not be run ({e.Message}); install it or log in again (`docker login {registry}`)", e);
        }

        using (process)
        {
            try
            {
                await process.StandardInput.WriteAsync(registry);
                process.StandardInput.Close();
                var output = ReadBoundedAsync(process.StandardOutput, bound.Token);
                var errors = ReadBoundedAsync(process.StandardError, bound.Token);
                await process.WaitForExitAsync(bound.Token);
                var (stdout, stderr) = (await output, await errors);
                if (process.ExitCode != 0)
                {
                    // "credentials not found" is the helpers' way of saying no login: anonymous, as with no entry.
                    return stdout.Contains("credentials not found", StringComparison.OrdinalIgnoreCase) || stderr.Contains("credentials not found", StringComparison.OrdinalIgnoreCase)
                        ? new AuthConfig()
                        : throw new InvalidOperationException($"{program} get failed for registry {registry} (exit {process.ExitCode}: {Platform.TextCap.Cap(stderr.Trim(), 300)}); log in again (`docker login {registry}`)");
                }

                return FromHelperAnswer(stdout, program);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{program} get did not answer within {HelperBound.TotalSeconds:0} s for registry {registry}");
            }
        }
    }

    private AuthConfig FromHelperAnswer(string stdout, string program)
    {
        try
        {
            using var answer = JsonDocument.Parse(stdout, new JsonDocumentOptions { MaxDepth = 4 });
            var user = answer.RootElement.TryGetProperty("Username", out var u) ? u.GetString() : null;
            var secret = answer.RootElement.TryGetProperty("Secret", out var s) ? s.GetString() : null;
            return (user, secret) switch
            {
                (_, null or "") => new AuthConfig(),
                ("<token>", _) => new AuthConfig { IdentityToken = secret, ServerAddress = registry },
                _ => new AuthConfig { Username = user, Password = secret, ServerAddress = registry },
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidOperationException($"{program} get answered something other than its JSON for registry {registry}; log in again (`docker login {registry}`)", e);
        }
    }

    private static async Task<string> ReadBoundedAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        var buffer = new char[4096];
        var text = new StringBuilder();
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (text.Length < MaxHelperOutput)
            {
                text.Append(buffer, 0, Math.Min(read, MaxHelperOutput - text.Length));
            }
        }

        return text.ToString();
    }
}

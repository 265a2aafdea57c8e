using System.Text;

namespace SandboxRunner.Configuration;

/// <summary>
/// <c>extra_ca_certs</c>: certificate authorities setup and tasks trust besides their image's own, for networks
/// that inspect TLS (a corporate proxy re-signs every certificate with its own authority). One PEM bundle is
/// built on this machine per run: this machine's system bundle, then each file the config names. It is put into
/// the setup and task containers (never committed into an image) and named by the variables the common
/// toolchains read. Those that replace their store with the file (git, curl, Python, pip) keep the public
/// authorities through the system bundle; Node adds the file to its own.
/// </summary>
public sealed record TrustedAuthorities(string Pem)
{
    /// <summary>The config value that means "what this machine trusts", with no file of its own.</summary>
    public const string Host = "host";

    /// <summary>The bundle's name in a task's CODEX_HOME.</summary>
    public const string FileName = "ca-certificates.pem";

    /// <summary>Where distributions keep their system bundle (Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine).</summary>
    public static readonly IReadOnlyList<string> HostBundles =
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"];

    /// <summary>The variables pointed at the bundle: OpenSSL's default file (curl, .NET, Ruby, Codex itself), Node, Python requests, curl, git, pip.</summary>
    public static readonly IReadOnlyList<string> Variables = ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT"];

    private const string Begin = "-----BEGIN CERTIFICATE-----";
    private const long MaxFileBytes = 16L << 20;

    /// <summary>Every variable of <see cref="Variables"/> set to <paramref name="path"/>.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string path) => Variables.ToDictionary(v => v, _ => path, StringComparer.Ordinal);

    /// <summary>
    /// The bundle <paramref name="config"/> asks for, or null when it asks for none. A file that cannot be read or
    /// holds no PEM certificate is refused, naming its entry (<c>extra_ca_certs[1]</c>) and the fix.
    /// </summary>
    public static TrustedAuthorities? Load(RunnerConfig config, string repositoryRoot, IReadOnlyList<string>? hostBundles = null)
    {
        if (config.ExtraCaCerts.Count == 0)
        {
            return null;
        }

        var problems = new List<Problem>();
        var pem = new StringBuilder();
        var system = (hostBundles ?? HostBundles).FirstOrDefault(File.Exists);
        if (system is not null)
        {
            pem.Append(Read(system, "(this machine's system bundle)", problems));
        }

        for (var i = 0; i < config.ExtraCaCerts.Count; i++)
        {
            var entry = config.ExtraCaCerts[i];
            var field = $"extra_ca_certs[{i}]";
            if (entry == Host)
            {
                if (system is null)
                {
                    problems.Add(new Problem(field, $"'host' means this machine's system bundle, and there is none at {string.Join(", ", hostBundles ?? HostBundles)}; name the PEM file of the authority instead"));
                }

                continue;
            }

            var path = Path.IsPathRooted(entry) ? entry : Path.Combine(repositoryRoot, entry);
            pem.Append(Read(path, field, problems));
        }

        if (problems.Count > 0)
        {
            throw new InvalidInputException(RunnerConfig.FileName, problems);
        }

        return new TrustedAuthorities(pem.ToString());
    }

    private static string Read(string path, string field, List<Problem> problems)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                problems.Add(new Problem(field, $"'{path}' does not exist; name a PEM file of the authority's certificate (-----BEGIN CERTIFICATE-----), or \"host\""));
                return "";
            }

            if (info.Length > MaxFileBytes)
            {
                problems.Add(new Problem(field, $"'{path}' is over {MaxFileBytes >> 20} MiB, too large for a bundle of certificates"));
                return "";
            }

            var text = File.ReadAllText(path);
            if (!text.Contains(Begin, StringComparison.Ordinal))
            {
                problems.Add(new Problem(field, $"'{path}' holds no PEM certificate ({Begin}); convert a DER file with: openssl x509 -inform der -in FILE -out FILE.pem"));
                return "";
            }

            return text.EndsWith('\n') ? text : text + "\n";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add(new Problem(field, $"'{path}' cannot be read ({e.Message})"));
            return "";
        }
    }
}

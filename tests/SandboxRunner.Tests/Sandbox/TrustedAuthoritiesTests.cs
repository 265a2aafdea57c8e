using SandboxRunner.Configuration;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Sandbox;

/// <summary><c>extra_ca_certs</c>: one bundle of this machine's system authorities and the named files, or a refusal naming the entry and the fix.</summary>
public sealed class TrustedAuthoritiesTests : IDisposable
{
    private const string Cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private readonly TempDirectory _dir = new();

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static RunnerConfig With(params string[] entries) => RunnerConfig.Default with { ExtraCaCerts = entries };

    [Fact]
    public void No_entries_mean_no_bundle()
    {
        Assert.Null(TrustedAuthorities.Load(RunnerConfig.Default, _dir.Path));
    }

    [Fact]
    public void The_bundle_is_this_machines_system_bundle_then_each_file_in_order()
    {
        var system = Write("system.crt", "SYSTEM\n" + Cert);
        var corp = Write("corp.pem", "CORP\n" + Cert);
        Write("repo/certs/team.pem", "TEAM\n" + Cert);

        var bundle = TrustedAuthorities.Load(With(corp, "certs/team.pem"), Path.Combine(_dir.Path, "repo"), [system])!;

        Assert.Equal("SYSTEM\n" + Cert + "CORP\n" + Cert + "TEAM\n" + Cert, bundle.Pem);
    }

    [Fact]
    public void Host_alone_is_this_machines_system_bundle()
    {
        var system = Write("system.crt", Cert);

        Assert.Equal(Cert, TrustedAuthorities.Load(With("host"), _dir.Path, [system])!.Pem);
    }

    [Fact]
    public void Host_without_a_system_bundle_is_refused()
    {
        var e = Assert.Throws<InvalidInputException>(() => TrustedAuthorities.Load(With("host"), _dir.Path, ["/nonexistent/a.crt"]));

        Assert.Equal(".mcp-codex.json: extra_ca_certs[0]: 'host' means this machine's system bundle, and there is none at /nonexistent/a.crt; name the PEM file of the authority instead", e.Message);
    }

    [Fact]
    public void A_file_without_a_pem_certificate_is_refused_with_how_to_convert_it()
    {
        var der = Write("root.cer", "\u0030\u0082binary");

        var e = Assert.Throws<InvalidInputException>(() => TrustedAuthorities.Load(With(der), _dir.Path, []));

        Assert.Equal($".mcp-codex.json: extra_ca_certs[0]: '{der}' holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a DER file with: openssl x509 -inform der -in FILE -out FILE.pem", e.Message);
    }

    [Fact]
    public void Every_bad_entry_is_named_at_once()
    {
        var e = Assert.Throws<InvalidInputException>(() => TrustedAuthorities.Load(With("/nonexistent/a.pem", "missing.pem"), _dir.Path, []));

        Assert.Equal(["extra_ca_certs[0]", "extra_ca_certs[1]"], e.Problems.Select(p => p.Field));
    }

    [Fact]
    public void Every_common_toolchains_variable_names_the_bundle()
    {
        Assert.Equal(
            ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT"],
            TrustedAuthorities.Environment("/codex-home/ca-certificates.pem").Where(kv => kv.Value == "/codex-home/ca-certificates.pem").Select(kv => kv.Key));
    }

    [Theory]
    [InlineData("[\"host\", \"/etc/corp/root.pem\", \"certs/ca.pem\"]", null)]
    [InlineData("[\"\"]", "extra_ca_certs[0]: must be \"host\" or the path of a PEM file of certificates")]
    [InlineData("[\"../ca.pem\"]", "extra_ca_certs[0]: must not contain a '..' segment; name the file by its absolute path")]
    [InlineData("\"host\"", "extra_ca_certs: must be an array of strings")]
    public void The_config_field_takes_host_and_paths(string json, string? problem)
    {
        if (problem is null)
        {
            Assert.Equal(3, Config.One("extra_ca_certs", json).ExtraCaCerts.Count);
        }
        else
        {
            Assert.Equal(problem, Config.OnlyProblem("extra_ca_certs", json).ToString());
        }
    }

    public void Dispose() => _dir.Dispose();
}

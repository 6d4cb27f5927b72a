using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Azure.Storage;
using Azure.Storage.Sas;
using MlTraces.Core.Archive;
using MlTraces.Core.Store;
using MlTraces.Tests.Archive;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>
    /// AZURE_STORAGE_ACCESS_KEY and AZURE_STORAGE_SAS_TOKEN, with which the module (as MLflow) goes to
    /// https://&lt;account&gt;.blob.core.windows.net, the account taken from the wasbs:// URI. A private Azurite serves
    /// that host name over HTTPS (production-style URLs: the account is the host's first label) with a certificate
    /// made here, reached through a CONNECT proxy named by HTTPS_PROXY and trusted through SSL_CERT_FILE. Both are
    /// read once per process, so the module runs in its own MlTraces.Shell process, whose whole output (verbose and
    /// debug included) must hold no key, token or signature.
    /// </summary>
    public class AzureKeyAndSasTests : IClassFixture<AzureKeyAndSasTests.AzureOverHttps>
    {
        protected virtual StoreKind Kind => StoreKind.Sqlite;

        private readonly AzureOverHttps _azure;

        public AzureKeyAndSasTests(AzureOverHttps azure) { _azure = azure; }

        /// <summary>One Azurite over HTTPS, its certificate and the proxy in front of it, for the whole class; made on
        /// first use, so a class whose tests are skipped starts nothing.</summary>
        public sealed class AzureOverHttps : IDisposable
        {
            private readonly Lazy<Parts> _parts = new Lazy<Parts>(() => new Parts());
            public Parts Value => _parts.Value;
            public void Dispose() { if (_parts.IsValueCreated) _parts.Value.Dispose(); }
        }

        public sealed class Parts : IDisposable
        {
            public readonly string Account = "mltr" + Convert.ToHexString(RandomNumberGenerator.GetBytes(5)).ToLowerInvariant();
            public readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(64));
            public readonly string CaFile;
            public readonly PrivateObjectStoreServer Server;
            public readonly ConnectProxy Proxy;

            public Parts()
            {
                var certificate = Certificate(Host);
                Server = new PrivateObjectStoreServer(Account, Key, certificate);
                Proxy = new ConnectProxy(new Uri(Server.Part("BlobEndpoint")).Port);
                CaFile = Path.Combine(Path.GetTempPath(), "mltraces-azure-ca-" + Guid.NewGuid().ToString("N") + ".pem");
                File.WriteAllText(CaFile, certificate.ExportCertificatePem());
            }

            public string Host => Account + ".blob.core.windows.net";

            /// <summary>Self-signed, for the account's production host name (and 127.0.0.1, for the raw access).</summary>
            private static X509Certificate2 Certificate(string host)
            {
                using var rsa = RSA.Create(2048);
                var request = new CertificateRequest("CN=" + host, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                var names = new SubjectAlternativeNameBuilder();
                names.AddDnsName(host);
                names.AddIpAddress(System.Net.IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
                request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
                request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, true));
                request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, false));
                return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            }

            /// <summary>An account SAS made with the key, as `az storage account generate-sas` makes one.</summary>
            public string AccountSas(AccountSasPermissions permissions, DateTimeOffset expires)
            {
                var sas = new AccountSasBuilder(permissions, expires, AccountSasServices.Blobs, AccountSasResourceTypes.Service | AccountSasResourceTypes.Container | AccountSasResourceTypes.Object)
                    { Protocol = SasProtocol.Https, StartsOn = DateTimeOffset.UtcNow.AddMinutes(-5) };
                return sas.ToSasQueryParameters(new StorageSharedKeyCredential(Account, Key)).ToString();
            }

            /// <summary>A service SAS for one container, as its owner hands one out.</summary>
            public string ContainerSas(string container, BlobContainerSasPermissions permissions, DateTimeOffset expires)
            {
                var sas = new BlobSasBuilder(permissions, expires) { BlobContainerName = container, Resource = "c", Protocol = SasProtocol.Https, StartsOn = DateTimeOffset.UtcNow.AddMinutes(-5) };
                return sas.ToSasQueryParameters(new StorageSharedKeyCredential(Account, Key)).ToString();
            }

            public void Dispose()
            {
                Proxy.Dispose();
                Server.Dispose();
                File.Delete(CaFile);
            }
        }

        /// <summary>A container of its own, and a store of traces (MLflow's content shape) whose archival
        /// configuration puts them under wasbs://container@account.blob.core.windows.net/root.</summary>
        private sealed class Scene : IDisposable
        {
            public readonly Parts Azure;
            public readonly ArchiveKillTests.Setup Setup;
            public readonly string Container = "cred" + Guid.NewGuid().ToString("N").Substring(0, 12);
            public readonly string Location, Config;

            public Scene(Parts azure, StoreKind kind, int traces)
            {
                Azure = azure;
                Azure.Server.CreateContainer(Container);
                Setup = ArchiveKillTests.Create(kind, traces);
                Location = Azure.Server.Uri(Container, "root");
                Config = Path.Combine(Setup.Store.Folder, "wasbs.yaml");
                File.WriteAllText(Config, $"trace_archival:\n  enabled: true\n  location: {Location}\n  retention: 1d\n");
            }

            public string[] Ids => Setup.Original.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            public List<string> Blobs() => Azure.Server.Keys(Container);
            public string PayloadKey(string id) => $"root/{Setup.ExperimentId}/traces/{id}/artifacts/{TracePayload.FileName}";

            /// <summary>The script in a new MlTraces.Shell process whose only Azure credential is <paramref name="credential"/>
            /// and whose HTTPS goes through the proxy, trusting the test's certificate; its exit code and whole output.</summary>
            public (int ExitCode, string Output) Run(string script, KeyValuePair<string, string> credential)
            {
                var env = new Dictionary<string, string>
                {
                    // Nothing from this process may reach the child's object-store settings: empty is unset.
                    ["AZURE_STORAGE_CONNECTION_STRING"] = "", ["AZURE_STORAGE_ACCESS_KEY"] = "", ["AZURE_STORAGE_SAS_TOKEN"] = "",
                    ["MLTRACES_ARTIFACTS_DESTINATION"] = "", ["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"] = "", ["MLTRACES_DELETE_BATCH_SIZE"] = "",
                    ["MLTRACES_AUDIT_LOG"] = "", ["https_proxy"] = "", ["http_proxy"] = "", ["HTTP_PROXY"] = "", ["all_proxy"] = "", ["ALL_PROXY"] = "", ["no_proxy"] = "", ["NO_PROXY"] = "",
                    // Nor any identity the default Azure credential would find.
                    ["AZURE_TENANT_ID"] = "", ["AZURE_CLIENT_ID"] = "", ["AZURE_CLIENT_SECRET"] = "", ["AZURE_CLIENT_CERTIFICATE_PATH"] = "",
                    ["AZURE_USERNAME"] = "", ["AZURE_FEDERATED_TOKEN_FILE"] = "", ["IDENTITY_ENDPOINT"] = "", ["MSI_ENDPOINT"] = "",
                    ["HTTPS_PROXY"] = Azure.Proxy.Url,
                    ["SSL_CERT_FILE"] = Azure.CaFile,
                    [credential.Key] = credential.Value,
                };
                string prelude = "$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $ErrorActionPreference = 'Continue'; "
                    + $"$uri = {ShellProcess.Quote(Setup.Store.UriText)}; $config = {ShellProcess.Quote(Config)}; "
                    + "$ids = $rm = @(" + string.Join(",", Ids.Select(ShellProcess.Quote)) + "); ";
                using var p = ShellProcess.Start(prelude + script, env);
                var errors = p.StandardError.ReadToEndAsync();
                string output = p.StandardOutput.ReadToEnd();
                Assert.True(p.WaitForExit(120_000), "The shell did not end within 120 s.");
                return (p.ExitCode, output + "\n" + errors.Result);
            }

            public void Dispose() => Setup.Dispose();
        }

        /// <summary>Lines "TAG|a|b|..." the script printed, split.</summary>
        private static List<string[]> Lines(string output, string tag) =>
            output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(tag + "|", StringComparison.Ordinal)).Select(l => l.Split('|').Skip(1).ToArray()).ToList();

        /// <summary>Each error as "ERR|command|error id|target", after the command's own output.</summary>
        private static string Errors(string label) =>
            $"; $e | ForEach-Object {{ 'ERR|{label}|' + $_.FullyQualifiedErrorId.Split(',')[0] + '|' + $_.TargetObject; 'TEXT|' + $_.Exception.ToString() + ' ' + $_.ErrorDetails }}; ";

        private const string Archive = "$e = $null; Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false -PassThru -ErrorVariable e | ForEach-Object { 'ARCHIVED|' + $_.TraceId + '|' + $_.Status + '|' + $_.ArchiveLocation }";
        private const string Read = "$e = $null; Get-Trace -TrackingUri $uri -TraceId $ids -ErrorVariable e -WarningVariable w | ForEach-Object { $t = $_; 'READ|' + $t.TraceId + '|' + $t.SpansLocation + '|' + $t.Spans.Count; $t.Spans | ForEach-Object { 'SPAN|' + $t.TraceId + '|' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($_.Content)) } }; $w | ForEach-Object { 'WARN|' + $_.Message }";
        private const string Remove = "$e = $null; Remove-Trace -TrackingUri $uri -TraceId $rm -Confirm:$false -PassThru -ErrorVariable e | ForEach-Object { 'REMOVED|' + $_.TraceId + '|' + $_.Status }";

        /// <summary>No secret in any form an SDK or a message might print it: whole, URL-encoded or decoded, and each
        /// SAS parameter's value that is one (the signature).</summary>
        private static void AssertNoSecret(string output, params string[] secrets)
        {
            foreach (var secret in secrets)
            {
                var forms = new List<string> { secret.TrimStart('?'), Uri.EscapeDataString(secret.TrimStart('?')) };
                foreach (var part in secret.TrimStart('?').Split('&').Where(p => p.StartsWith("sig=", StringComparison.Ordinal)))
                {
                    string sig = part.Substring(4);
                    forms.AddRange(new[] { sig, Uri.UnescapeDataString(sig), Uri.EscapeDataString(Uri.UnescapeDataString(sig)) });
                }
                foreach (var form in forms.Distinct().Where(f => f.Length > 0)) Assert.DoesNotContain(form, output);
            }
        }

        /// <summary>A SAS token's signature (base64: '+', '/', '=') comes URL-encoded; whatever echoes it may do so
        /// encoded, decoded or encoded twice. Every form is scrubbed from a message, as are the key's.</summary>
        [Theory]
        [InlineData("as given")]
        [InlineData("decoded")]
        [InlineData("encoded again")]
        public void EveryFormOfTheSignatureIsScrubbed(string form)
        {
            const string Signature = "q8Uj+0fT/xK4m9zR2bV7wN1cL5pH3dA6eY0sG8iJ2kM=";
            string sas = "?sv=2025-05-05&ss=b&srt=sco&sp=rwdlac&se=2031-01-01T00%3A00%3A00Z&spr=https&sig=" + Uri.EscapeDataString(Signature);
            var settings = new MlTraces.Core.Locations.ObjectStoreSettings(n => n == SasVariable ? sas : null);
            string shown = form switch
            {
                "as given" => Uri.EscapeDataString(Signature),
                "decoded" => Signature,
                _ => Uri.EscapeDataString(Uri.EscapeDataString(Signature)),
            };
            string scrubbed = settings.Scrub($"403 for https://acct.blob.core.windows.net/c/b?sig={shown} (signature {shown})");
            Assert.DoesNotContain(shown, scrubbed);
            Assert.DoesNotContain("q8Uj", scrubbed);
            Assert.Contains("acct.blob.core.windows.net", scrubbed);
        }

        public static IEnumerable<object[]> GoodCredentials() => new[] { new object[] { "key" }, new object[] { "sas" }, new object[] { "?sas" }, new object[] { "container sas" } };

        private KeyValuePair<string, string> Credential(string which, string container = "") => which switch
        {
            "container sas" => new KeyValuePair<string, string>("AZURE_STORAGE_SAS_TOKEN", _azure.Value.ContainerSas(container, BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write | BlobContainerSasPermissions.Delete | BlobContainerSasPermissions.List | BlobContainerSasPermissions.Create | BlobContainerSasPermissions.Add, DateTimeOffset.UtcNow.AddHours(1))),
            "key" => new KeyValuePair<string, string>("AZURE_STORAGE_ACCESS_KEY", _azure.Value.Key),
            "sas" => new KeyValuePair<string, string>("AZURE_STORAGE_SAS_TOKEN", _azure.Value.AccountSas(AccountSasPermissions.Read | AccountSasPermissions.Write | AccountSasPermissions.Delete | AccountSasPermissions.List | AccountSasPermissions.Create | AccountSasPermissions.Add, DateTimeOffset.UtcNow.AddHours(1))),
            // As the portal shows it, and as MLflow's users paste it.
            "?sas" => new KeyValuePair<string, string>("AZURE_STORAGE_SAS_TOKEN", "?" + Credential("sas").Value),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };

        /// <summary>Invoke-TraceArchive uploads each traces.pb to the account the wasbs:// URI names, at
        /// https://account.blob.core.windows.net (every tunnel the proxy opened went there); Get-Trace reads the
        /// spans back from there; Remove-Trace deletes the objects and the rows. No output holds the secret.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(GoodCredentials))]
        public void TheKeyOrAnAccountSasArchivesReadsAndRemoves(string which)
        {
            var azure = _azure.Value;
            using var s = new Scene(azure, Kind, 4);
            var credential = Credential(which, s.Container);
            int tunnels = azure.Proxy.Targets.Count;

            var (code, output) = s.Run(Archive + Errors("archive") + Read + Errors("read"), credential);
            Assert.True(code == 0, output);
            Assert.Empty(Lines(output, "ERR"));
            Assert.Empty(Lines(output, "WARN"));
            var archived = Lines(output, "ARCHIVED");
            Assert.Equal(s.Ids, archived.Select(a => a[0]).OrderBy(x => x, StringComparer.Ordinal));
            Assert.All(archived, a => { Assert.Equal("Archived", a[1]); Assert.Equal($"{s.Location}/{s.Setup.ExperimentId}/traces/{a[0]}/artifacts", a[2]); });
            // Written where the key says, seen through the emulator's other address (path-style, 127.0.0.1).
            Assert.Equal(s.Ids.Select(s.PayloadKey), s.Blobs());
            ArchiveKillTests.AssertEachTraceInOnePlace(s.Setup, "after the pass", folder => folder, folder => azure.Server.Get(s.Container, s.PayloadKey(folder.Split('/')[^2])));
            Assert.Equal(s.Ids.Length, ArchiveKillTests.Archived(s.Setup.Store));
            var read = Lines(output, "READ");
            Assert.Equal(s.Ids, read.Select(r => r[0]).OrderBy(x => x, StringComparer.Ordinal));
            Assert.All(read, r => Assert.Equal("ARCHIVE_REPO", r[1]));
            foreach (var (id, spans) in s.Setup.Original)
                Assert.Equal(spans.Values.OrderBy(c => c, StringComparer.Ordinal),
                    Lines(output, "SPAN").Where(l => l[0] == id).Select(l => Encoding.UTF8.GetString(Convert.FromBase64String(l[1]))).OrderBy(c => c, StringComparer.Ordinal));

            var (removeCode, removeOutput) = s.Run(Remove + Errors("remove"), credential);
            Assert.True(removeCode == 0, removeOutput);
            Assert.Empty(Lines(removeOutput, "ERR"));
            Assert.All(Lines(removeOutput, "REMOVED"), r => Assert.Equal("Deleted", r[1]));
            Assert.Equal(s.Ids.Length, Lines(removeOutput, "REMOVED").Count);
            Assert.Empty(Delete.DeleteTestSupport.TraceIds(s.Setup.Store));
            Assert.Empty(s.Blobs());

            // Every request went to the account's production host name, through the proxy.
            Assert.True(azure.Proxy.Targets.Count > tunnels);
            Assert.All(azure.Proxy.Targets, t => Assert.Equal(azure.Host + ":443", t));
            AssertNoSecret(output + removeOutput, credential.Value, azure.Key);
        }

        private const string KeyVariable = "AZURE_STORAGE_ACCESS_KEY", SasVariable = "AZURE_STORAGE_SAS_TOKEN";
        private static readonly string[] CredentialVariables = { "AZURE_STORAGE_CONNECTION_STRING", KeyVariable, SasVariable };

        public static IEnumerable<object[]> BadCredentials() => new[]
        {
            new object[] { "wrong key" }, new object[] { "expired SAS" }, new object[] { "read-only SAS" },
            new object[] { "malformed key" }, new object[] { "empty SAS" }, new object[] { "no credential" },
        };

        /// <summary>A wrong key, an expired SAS, a read-only one, a key that is not base64, a SAS that is only its
        /// '?', none at all (the default Azure credential finds nothing here): each trace gets its error, saying what
        /// was wrong (a malformed value names its own variable, not the others); the store and the container are as
        /// they were; no output holds a secret.</summary>
        [ObjectStoreTheory(PrivateServer = true)]
        [MemberData(nameof(BadCredentials))]
        public void AWrongKeyOrAnExpiredOrReadOnlySasChangesNothing(string which)
        {
            var azure = _azure.Value;
            using var s = new Scene(azure, Kind, 4);
            // Two traces archived with the right key: they have objects to read and to fail to delete.
            var first = s.Run("$e = $null; Invoke-TraceArchive -TrackingUri $uri -ConfigPath $config -Confirm:$false -MaxTraces 2 -ErrorVariable e" + Errors("setup"), Credential("key"));
            Assert.True(first.ExitCode == 0, first.Output);
            var archivedIds = s.Blobs().Select(k => k.Split('/')[3]).ToArray();
            Assert.Equal(2, archivedIds.Length);
            var (credential, expected) = which switch
            {
                "wrong key" => (new KeyValuePair<string, string>(KeyVariable, Convert.ToBase64String(RandomNumberGenerator.GetBytes(64))), "ObjectStoreAccessDenied"),
                "expired SAS" => (new KeyValuePair<string, string>(SasVariable, azure.AccountSas(AccountSasPermissions.All, DateTimeOffset.UtcNow.AddMinutes(-1))), "ObjectStoreAccessDenied"),
                "read-only SAS" => (new KeyValuePair<string, string>(SasVariable, azure.AccountSas(AccountSasPermissions.Read | AccountSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1))), "ObjectStoreAccessDenied"),
                "malformed key" => (new KeyValuePair<string, string>(KeyVariable, "not-base64!" + Guid.NewGuid().ToString("N")), "ObjectStoreCredentialsInvalid"),
                "empty SAS" => (new KeyValuePair<string, string>(SasVariable, "?"), "ObjectStoreCredentialsInvalid"),
                _ => (new KeyValuePair<string, string>(SasVariable, ""), "ObjectStoreCredentialsMissing"),
            };
            string fingerprint = s.Setup.Store.Fingerprint();
            var blobs = s.Blobs().ToDictionary(k => k, k => azure.Server.Get(s.Container, k));

            // Only the archived traces are removed: the others have no object in the container (theirs are local).
            string rm = "$rm = @(" + string.Join(",", archivedIds.Select(ShellProcess.Quote)) + "); ";
            var (code, output) = s.Run(Archive + Errors("archive") + Read + Errors("read") + rm + Remove + Errors("remove"), credential);

            Assert.NotEqual(0, code);
            Assert.Equal(fingerprint, s.Setup.Store.Fingerprint());
            Assert.Equal(blobs.Keys, s.Blobs());
            foreach (var (k, v) in blobs) Assert.Equal(v, azure.Server.Get(s.Container, k));
            var errors = Lines(output, "ERR");
            var archiveErrors = errors.Where(e => e[0] == "archive").ToList();
            Assert.Equal(s.Ids.Except(archivedIds), archiveErrors.Select(e => e[2]).OrderBy(x => x, StringComparer.Ordinal));
            Assert.All(archiveErrors, e => Assert.Equal(expected, e[1]));
            Assert.Empty(errors.Where(e => e[0] == "read"));
            Assert.Equal(archivedIds, errors.Where(e => e[0] == "remove").Select(e => e[2]).OrderBy(x => x, StringComparer.Ordinal));
            Assert.All(errors.Where(e => e[0] == "remove"), e => Assert.Equal("TraceObjectsNotRemoved", e[1]));
            var read = Lines(output, "READ").ToDictionary(r => r[0], r => int.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture));
            // Reading is allowed to the read-only SAS alone; otherwise each archived trace comes without its spans,
            // with a warning.
            Assert.All(archivedIds, id => Assert.Equal(which == "read-only SAS" ? 2 : 0, read[id]));
            Assert.Equal(which == "read-only SAS" ? 0 : archivedIds.Length, Lines(output, "WARN").Count);
            var texts = Lines(output, "TEXT").Select(t => string.Join("|", t)).Concat(Lines(output, "WARN").Select(w => w[0])).ToList();
            Assert.NotEmpty(texts);
            if (expected == "ObjectStoreCredentialsInvalid")
                Assert.All(texts, t =>
                {
                    Assert.Contains("$env:" + credential.Key + " is malformed", t);
                    foreach (var other in CredentialVariables.Where(v => v != credential.Key)) Assert.DoesNotContain(other, t);
                });
            AssertNoSecret(output, credential.Value, azure.Key);
        }
    }
}

export type { CapturedRun, OutputSink } from "./capture.js";
export { captureOutput } from "./capture.js";
export type {
  CertificateAuthority,
  CertificateAuthorityOptions,
  CertificateUsage,
  IssuedCertificate,
  IssueOptions,
} from "./certificate-authority.js";
export { createCertificateAuthority } from "./certificate-authority.js";
export type { TestCertificate, TestCertificates, TestCertificatesOptions } from "./certificates.js";
export { createTestCertificates } from "./certificates.js";
export type { SweepResult } from "./cleanup.js";
export { sweepOrphans } from "./cleanup.js";
export type { EtcdFixtureErrorCode } from "./errors.js";
export { EtcdFixtureError } from "./errors.js";
export type { EtcdCluster, StartEtcdClusterOptions } from "./etcd-cluster.js";
export { startEtcdCluster } from "./etcd-cluster.js";
export type { EtcdMemberStatus, EtcdRunOptions, EtcdServer, StartEtcdOptions } from "./etcd-server.js";
export { startEtcd } from "./etcd-server.js";
export type { EtcdBinary, FindEtcdOptions } from "./find-etcd.js";
export {
  etcdInstallCommand,
  etcdNamingCache,
  etcdVersionOf,
  FETCH_ETCD_COMMAND,
  findEtcdBinary,
  resolveEtcd,
  TESTED_ETCD_VERSIONS,
} from "./find-etcd.js";
export type { GrpcProxy, StartGrpcProxyOptions } from "./grpc-proxy.js";
export { startGrpcProxy } from "./grpc-proxy.js";
export type { EtcdMetrics, MetricSample } from "./metrics.js";
export { parseMetrics, readEtcdMetrics } from "./metrics.js";
export type { PartitionableCluster, StartPartitionableClusterOptions } from "./partition-cluster.js";
export { partitionSupportMissing, startPartitionableCluster } from "./partition-cluster.js";
export type { TcpProxy, TcpProxyOptions } from "./tcp-proxy.js";
export { startTcpProxy } from "./tcp-proxy.js";
export type { EtcdTlsOptions } from "./tls.js";
export { tlsFromCertificates } from "./tls.js";
export type { StartTlsClusterOptions, TlsCluster } from "./tls-cluster.js";
export { startTlsCluster } from "./tls-cluster.js";
export type { StartTlsEtcdOptions, TlsEtcd } from "./tls-etcd.js";
export { startTlsEtcd } from "./tls-etcd.js";
